import re

from setuptools import find_packages, setup

# the version is written once, in paddle_roberta/_version.py (read, not imported: nothing is installed yet)
VERSION = re.search(r'__version__ = "([^"]+)"', open("paddle_roberta/_version.py", encoding="utf-8").read()).group(1)

setup(
    name="paddle-roberta",
    version=VERSION,
    description="Convert Hugging Face PyTorch BERT/RoBERTa/XLM-RoBERTa checkpoints into PaddleNLP model directories, "
                "with parity checks",
    packages=find_packages(include=["paddle_roberta", "paddle_roberta.*"]),
    python_requires=">=3.10",
    # Conversion needs only these; torch reads pytorch_model.bin, paddle/paddlenlp load the result.
    # sentencepiece checks XLM-RoBERTa's sentencepiece.bpe.model before it is copied.
    # jinja2: the model card, the export README and app.py are templates (*/templates/)
    install_requires=["numpy", "safetensors", "ml_dtypes", "tqdm", "tokenizers", "sentencepiece", "jinja2"],
    package_data={"paddle_roberta": ["*/templates/*"]},
    extras_require={
        "torch": ["torch"],
        # protobuf: transformers' XLMRobertaTokenizerFast builds itself from the SentencePiece model with it
        "parity": ["torch", "transformers", "paddlepaddle", "paddlenlp", "protobuf"],
        # serving.simple_server: PaddleNLP's SimpleServer (FastAPI + uvicorn, which paddlenlp itself requires)
        # the task routes answer through tasks.pipeline, whose text side is transformers' fast tokenizer (no torch)
        "serve": ["paddlepaddle", "paddlenlp", "fastapi", "uvicorn", "transformers", "protobuf"],
        "pipelines": ["paddlepaddle", "paddlenlp", "transformers", "protobuf"],
        # export --to onnx: paddle2onnx converts the static graph, onnxoptimizer folds its Identity nodes, onnxruntime
        # runs it (verification, Predictor) and quantises it (--quantize int8)
        "onnx": ["paddlepaddle", "paddlenlp", "paddle2onnx", "onnx", "onnxoptimizer", "onnxruntime"],
        "test": ["torch", "transformers", "paddlepaddle", "paddlenlp", "protobuf", "pytest", "pytest-xdist",
                 "hypothesis", "fastapi", "uvicorn", "requests", "sentence-transformers", "ruff", "paddle2onnx", "onnx",
                 "onnxoptimizer", "onnxruntime"],
        # verify on a sentence-transformers source compares with sentence-transformers' own encode
        "sentence": ["torch", "transformers", "sentence-transformers", "paddlepaddle", "paddlenlp", "protobuf"],
        # bench/bench_load.py: onnxruntime beside torch and Paddle Inference
        "bench": ["onnxruntime"],
    },
    entry_points={"console_scripts": ["paddle-roberta=paddle_roberta.__main__:entry"]},
)
