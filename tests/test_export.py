"""PaddleNLP -> Hugging Face: round trip bit for bit, fine-tuned Paddle models verified, pickles never run."""

import json
import os
import pickle

import numpy as np
import pytest
from conftest import BASE_PREFIX, HEADS, TINY, VOCAB, hf_class
from safetensors.numpy import load_file

from paddle_roberta import ConversionError, convert, export
from paddle_roberta.dev.synthetic import build_checkpoint

CASES = [(f, h) for f in HEADS for h in HEADS[f]]


def config_for(family, head):
    return dict(TINY[family], num_labels=2) if head == "ForQuestionAnswering" else TINY[family]


@pytest.mark.parametrize("family,head", CASES)
def test_round_trip_is_bit_identical(tmp_path, paddle_quiet, family, head):
    import transformers

    src, pd, back = tmp_path / "hf", tmp_path / "paddle", tmp_path / "back"
    build_checkpoint(str(src), hf_class(family, head), config_for(family, head), seed=11)
    convert(src, pd)
    result = export(pd, back)  # verified against PaddleNLP by default
    assert result.verify_report["ok"] and result.model_class == hf_class(family, head)

    original, exported = load_file(src / "model.safetensors"), load_file(back / "model.safetensors")
    assert set(exported) == set(original), set(exported) ^ set(original)
    for name, value in original.items():
        np.testing.assert_array_equal(exported[name], value, err_msg=name)
        assert exported[name].dtype == value.dtype
    model, info = getattr(transformers, hf_class(family, head)).from_pretrained(str(back), output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [], info
    assert json.loads((back / "config.json").read_text())["architectures"] == [hf_class(family, head)]


def _fine_tune(model, family, head, steps=3):
    """A few SGD steps on the model's own outputs: weights that match no Hugging Face original."""
    import paddle

    from paddle_roberta.parity import compare as parity

    cfg = model.config
    inputs = parity.make_batch(family, head, cfg.vocab_size, cfg.max_position_embeddings, cfg.pad_token_id,
                               num_choices=getattr(cfg, "num_choices", None) or 2)
    feed = {k: paddle.to_tensor(v) for k, v in inputs.items()}
    if parity.needs_causal_mask(family, head):
        feed["attention_mask"] = paddle.to_tensor(parity.causal_additive_mask(inputs["attention_mask"]))
    paddle.seed(0)  # dropout masks
    model.train()
    # a fine-tuning-sized step (Adam-like 1e-3 moves): weights change everywhere, activations stay trained-sized
    optimizer = paddle.optimizer.SGD(learning_rate=1e-2, parameters=model.parameters())
    for _ in range(steps):
        out = model(**feed, return_dict=True)
        loss = sum(v.astype("float32").tanh().mean() for k, v in out.items() if isinstance(v, paddle.Tensor))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
    model.eval()


@pytest.mark.parametrize("family,head", CASES)
def test_paddle_fine_tuned_model_exports_and_matches(tmp_path, paddle_quiet, family, head):
    import paddlenlp.transformers as pt

    src, pd, tuned, out = tmp_path / "hf", tmp_path / "paddle", tmp_path / "tuned", tmp_path / "out"
    config = dict(config_for(family, head), vocab_size=700, max_position_embeddings=66)  # room for a real vocab
    original = build_checkpoint(str(src), hf_class(family, head), config, seed=12, vocab=VOCAB[family])
    convert(src, pd)
    paddle_class = json.loads((pd / "config.json").read_text())["architectures"][0]
    model = getattr(pt, paddle_class).from_pretrained(str(pd))
    _fine_tune(model, family, head)
    model.save_pretrained(str(tuned))  # PaddleNLP's own format: model_state.pdparams, its config.json
    pt.AutoTokenizer.from_pretrained(str(pd)).save_pretrained(str(tuned))
    assert (tuned / "model_state.pdparams").exists()

    try:
        result = export(tuned, out)
    except ConversionError as e:
        raise AssertionError(f"{e}\n{e.details}") from None
    report = result.verify_report
    assert report["ok"] and report["tokenizer"] is not None, result
    embedding = ("" if head == "Model" else BASE_PREFIX[family]) + "embeddings.word_embeddings.weight"
    changed = load_file(out / "model.safetensors")[embedding]
    assert not np.array_equal(changed, original.state_dict()[embedding].numpy()), "fine-tuning changed nothing"


def test_tokenizer_files_load_in_transformers(tmp_path, paddle_quiet):
    import transformers

    for family in HEADS:
        src, pd, back = tmp_path / f"{family}-hf", tmp_path / f"{family}-pd", tmp_path / f"{family}-back"
        build_checkpoint(str(src), hf_class(family, "ForMaskedLM"),
                         dict(TINY[family], vocab_size=700, max_position_embeddings=66),
                         vocab=VOCAB[family])
        convert(src, pd)
        export(pd, back)
        a, b = (transformers.AutoTokenizer.from_pretrained(str(src)),
                transformers.AutoTokenizer.from_pretrained(str(back)))
        for text in ["Paris is the <mask> of France.", "中国的首都是[MASK]京。", "a <s> b </s> [SEP] c",
                     "Столица — <mask>."]:
            assert a(text)["input_ids"] == b(text)["input_ids"], text


def test_pdparams_payload_is_refused_and_never_runs(tmp_path, paddle_quiet):
    src, pd = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "BertModel", TINY["bert"])
    convert(src, pd, format="pdparams")
    sentinel = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    state = {"embeddings.word_embeddings.weight": Payload()}
    (pd / "model_state.pdparams").write_bytes(pickle.dumps(state))
    with pytest.raises(ConversionError, match="only numpy arrays are read") as err:
        export(pd, tmp_path / "back")
    assert "\n" not in str(err.value) and "system" in str(err.value)
    assert not sentinel.exists() and not (tmp_path / "back").exists()


def test_export_refusals(tmp_path, paddle_quiet):
    src, pd = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "BertModel", TINY["bert"])
    convert(src, pd)
    with pytest.raises(ConversionError, match="a Hugging Face directory, not a PaddleNLP one"):
        export(src, tmp_path / "x")  # a Hugging Face directory is not a PaddleNLP one
    with pytest.raises(ConversionError, match="inside the source"):
        export(pd, pd / "inside")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "f").write_text("mine")
    with pytest.raises(ConversionError, match="already exists"):
        export(pd, tmp_path / "taken")
    cfg = json.loads((pd / "config.json").read_text())
    (pd / "config.json").write_text(json.dumps(dict(cfg, architectures=["ErnieModel"])))
    with pytest.raises(ConversionError, match="ErnieModel has no transformers counterpart"):
        export(pd, tmp_path / "y")
    assert (tmp_path / "taken" / "f").read_text() == "mine" and not (tmp_path / "y").exists()


def test_clue_checkpoint_round_trip_and_reverse_verify(tmp_path, paddle_quiet):
    """CLUE: config says roberta, tensors are BERT. Back in Hugging Face form it is what its model card loads,
    a BertModel, bit for bit; `verify HF_DIR PADDLE_DIR` works in this direction too."""
    import subprocess
    import sys

    config = dict(TINY["bert"], model_type="roberta", pad_token_id=1, vocab_size=700, max_position_embeddings=64)
    src, pd, back = tmp_path / "hf", tmp_path / "paddle", tmp_path / "back"
    build_checkpoint(str(src), "BertModel", config, vocab="wordpiece", config_json=config)
    convert(src, pd)
    export(pd, back)
    back_config = json.loads((back / "config.json").read_text())
    assert back_config["model_type"] == "bert" and back_config["architectures"] == ["BertModel"]
    original, exported = load_file(src / "model.safetensors"), load_file(back / "model.safetensors")
    assert set(original) == set(exported) and all(np.array_equal(original[k], exported[k]) for k in original)
    r = subprocess.run([sys.executable, "-m", "paddle_roberta", "verify", str(back), str(pd)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and "PASS" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("safe", [False, True], ids=["pdparams-shards", "safetensors-shards"])
def test_sharded_paddle_weights_export_and_verify(tmp_path, paddle_quiet, safe):
    """PaddleNLP's save_pretrained with max_shard_size writes shards and an index: export reads them as one
    checkpoint (the same reader convert uses), verifies, and gives back the source's tensors bit for bit."""
    import paddlenlp.transformers as pt

    src, pd, sharded, back = tmp_path / "hf", tmp_path / "paddle", tmp_path / "sharded", tmp_path / "back"
    config = dict(TINY["roberta"], vocab_size=700, max_position_embeddings=66)  # room for a real vocabulary
    build_checkpoint(str(src), "RobertaForSequenceClassification", config, seed=13, vocab=VOCAB["roberta"])
    convert(src, pd)
    model = pt.RobertaForSequenceClassification.from_pretrained(str(pd))
    model.save_pretrained(str(sharded), max_shard_size="20KB", safe_serialization=safe)
    pt.AutoTokenizer.from_pretrained(str(pd)).save_pretrained(str(sharded))
    index = "model.safetensors.index.json" if safe else "model_state.pdparams.index.json"
    shards = [p for p in sharded.iterdir() if p.suffix in (".pdparams", ".safetensors")]
    assert (sharded / index).exists() and len(shards) > 2, sorted(p.name for p in sharded.iterdir())

    result = export(sharded, back)
    assert result.verify_report["ok"] and result.model_class == "RobertaForSequenceClassification"
    original, exported = load_file(src / "model.safetensors"), load_file(back / "model.safetensors")
    assert set(exported) == set(original)
    for name, value in original.items():
        np.testing.assert_array_equal(exported[name], value, err_msg=name)


def test_export_checks_shapes_against_the_config(tmp_path, paddle_quiet):
    """The shape checks convert makes hold on the way back: a PaddleNLP config whose sizes disagree with the
    tensors is refused naming the tensor, before anything is written."""
    src, pd = tmp_path / "hf", tmp_path / "paddle"
    build_checkpoint(str(src), "BertForSequenceClassification", TINY["bert"], seed=14)
    convert(src, pd)
    config = json.loads((pd / "config.json").read_text())
    config["intermediate_size"] += 4
    (pd / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConversionError, match=r"tensor bert.encoder.layers.0.linear1.weight has shape .* implies"):
        export(pd, tmp_path / "back", verify=False)
    assert not (tmp_path / "back").exists()
