"""The stages of ``export --to inference`` (export_inference.py): the graph's inputs and outputs (spec.py), the static
graph traced and saved (trace.py), its README (readme.py, from templates/)."""
