"""Task answers in the shape transformers' ``pipeline`` gives them (``pipeline.py``), on a converted directory or a
Paddle Inference export (``runners.py``); one module per task for what is done with the model's outputs."""
