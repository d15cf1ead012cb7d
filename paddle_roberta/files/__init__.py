"""Files: weight readers and writers, the tensor stream, the output directory, the model card, sources and the hub."""
