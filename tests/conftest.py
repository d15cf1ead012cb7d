import os

import numpy as np
import pytest

# Odd sizes on purpose: hidden 20 with 4 heads (head dim 5), intermediate 37, 3 labels, and
# position tables that are not powers of two. RoBERTa's keeps transformers' pad + 2 offset.
TINY = {
    "bert": dict(vocab_size=97, hidden_size=20, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                 max_position_embeddings=33, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0, num_labels=3),
    "roberta": dict(vocab_size=101, hidden_size=20, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                    max_position_embeddings=35, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
                    bos_token_id=0, eos_token_id=2, num_labels=3),
    # vocab 282: the test SentencePiece model's 280 pieces + <pad> + <mask>, XLM-R's exact alignment
    "xlm-roberta": dict(vocab_size=282, hidden_size=20, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=37,
                        max_position_embeddings=37, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
                        bos_token_id=0, eos_token_id=2, num_labels=3),
}
HEADS = {
    "bert": ["Model", "ForMaskedLM", "ForPreTraining", "ForSequenceClassification", "ForTokenClassification",
             "ForQuestionAnswering", "ForMultipleChoice"],
    "roberta": ["Model", "ForMaskedLM", "ForCausalLM", "ForSequenceClassification", "ForTokenClassification",
                "ForQuestionAnswering", "ForMultipleChoice"],
    "xlm-roberta": ["Model", "ForMaskedLM", "ForCausalLM", "ForSequenceClassification", "ForTokenClassification",
                    "ForQuestionAnswering", "ForMultipleChoice"],
}
HF_PREFIX = {"bert": "Bert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta"}
VOCAB = {"bert": "wordpiece", "roberta": "bpe", "xlm-roberta": "sentencepiece"}  # synthetic tokenizer per family
BASE_PREFIX = {"bert": "bert.", "roberta": "roberta.", "xlm-roberta": "roberta."}  # PaddleNLP's, heads only

# float32 parity bar: transformers' own PyTorch/TensorFlow/Flax equivalence tests use 1e-5 (its
# `pt-to-tf` command 5e-5, X2Paddle's tests 1e-4). Both sides
# run the same float32 math in a different order: measured worst 4e-6 abs up to 6 layers, and
# 1.3e-5 abs (2.3e-6 rel) at 24 layers x 1024, hence the bar scales with outputs above 1
# (parity.Diff.within). A wrong weight or layout is off by 1e-2 or more.
ATOL = 1e-5


def hf_class(family, head):
    return HF_PREFIX[family] + head


def read_output(out_dir):
    """Every tensor of a converted directory, read with the libraries (not this package's reader)."""
    st = os.path.join(out_dir, "model.safetensors")
    if os.path.exists(st):
        import ml_dtypes  # noqa: F401  (bfloat16)
        from safetensors import safe_open

        with safe_open(st, framework="np") as f:
            if any(f.get_slice(k).get_dtype() == "BF16" for k in f.keys()):
                import torch  # noqa: F401  (safetensors.torch needs it)
                from safetensors.torch import load_file

                return {k: v.float().numpy() for k, v in load_file(st).items()}
            return {k: f.get_tensor(k) for k in f.keys()}
    import paddle

    state = paddle.load(os.path.join(out_dir, "model_state.pdparams"))
    return {k: (v.astype("float32") if v.dtype == paddle.bfloat16 else v).numpy() for k, v in state.items()}


def assert_loaded_equals_file(model, weights, prefix=""):
    """Every parameter PaddleNLP built holds the converted value: nothing newly initialised."""
    for name, value in model.state_dict().items():
        key = name if name in weights else prefix + name
        assert key in weights, f"{name} is not in the converted file: PaddleNLP initialised it"
        np.testing.assert_array_equal(value.numpy(), weights[key], err_msg=name)


@pytest.fixture(scope="session")
def paddle_quiet():
    import paddlenlp.utils.log as log

    log.logger.set_level("ERROR")
    return True


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """from_pretrained on a Hugging Face source converts into $PADDLE_ROBERTA_CACHE: never the user's own cache
    (subprocesses inherit it too)."""
    import os

    old = os.environ.get("PADDLE_ROBERTA_CACHE")
    os.environ["PADDLE_ROBERTA_CACHE"] = str(tmp_path_factory.mktemp("paddle_roberta_cache"))
    yield
    if old is None:
        os.environ.pop("PADDLE_ROBERTA_CACHE", None)
    else:
        os.environ["PADDLE_ROBERTA_CACHE"] = old
