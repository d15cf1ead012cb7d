"""sentence-transformers models: converted with their pipeline, encoded in Paddle with the same vectors, verified,
and exported back to a sentence-transformers directory.

Each model is built with the sentence-transformers package itself (``SentenceTransformer.save``) on a
trained-looking body (``dev.synthetic``), with trained-looking Dense weights. The bars: every embedding within
ATOL x max(1, max |embedding|) (conftest: float32, both frameworks, different summation orders), and every
pairwise cosine similarity within 1e-6 (the issue's bar: what retrieval ranks by) or, where float32 is less precise
than that on these texts, no further from sentence-transformers' float64 computation than twice its own float32
(verify's rule, parity/sentence.py: on one RoBERTa mean_sqrt_len model Paddle's cosines differed by 1.7e-6).
"""

import json
import os
import threading

import numpy as np
import pytest
from conftest import ATOL, TINY

from paddle_roberta import ConversionError, SentenceEncoder, convert, export
from paddle_roberta.dev.synthetic import build_sentence_transformer
from paddle_roberta.parity.sentence import COSINE_ATOL, cosines_agree, reference_embeddings
from paddle_roberta.parity.verify import verify

# Room for a real vocabulary (byte-level BPE needs its 256 bytes) and for texts longer than max_seq_length. Hidden
# 64, not TINY's 20: float32 noise relative to a 20-wide vector crossed the 1e-6 cosine bar (1.3e-6 once, with
# 2.5e-7 abs per element); at hidden 384 x 6 layers (all-MiniLM-L6's shape) it measured 0.5-1.5e-7.
WIDER = dict(hidden_size=64, num_attention_heads=4, intermediate_size=96)
CONFIGS = {"bert": dict(TINY["bert"], max_position_embeddings=40, **WIDER),
           "roberta": dict(TINY["roberta"], vocab_size=700, max_position_embeddings=42, **WIDER),
           "xlm-roberta": dict(TINY["xlm-roberta"], max_position_embeddings=42, **WIDER)}
MODES = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]
LONG = "自然语言处理是人工智能的一个重要方向。Natural language processing is an important field. " * 4
TEXTS = ["中国的首都是北京。", "今天天气很好，我们去公园散步吧！", "The capital of France is Paris.",
         "It is a sunny day, let's go for a walk in the park!", "北京 is the capital of 中国, c'est très bien.",
         "Ça va très bien, merci ! 😊", "  spaces around  ", "", LONG, "Short", LONG[::-1]]


def st_encode(st, texts=None, **kwargs):
    """sentence-transformers' embeddings of ``texts`` in float32 (as users get them) and in float64 (verify's
    reference for float32's own precision)."""
    texts = TEXTS if texts is None else texts
    return reference_embeddings(st, texts, **kwargs), reference_embeddings(st, texts, "float64", **kwargs)


def assert_same_vectors(want, exact, got, atol=ATOL):
    want, got = np.asarray(want), np.asarray(got)
    assert want.shape == got.shape
    worst = float(np.abs(want - got).max())
    assert worst <= atol * max(1.0, float(np.abs(want).max())), f"max abs diff {worst:.2e}"
    ok, cos, vs_exact, own = cosines_agree(want, exact, got)
    assert ok, f"pairwise cosine diff {cos:.2e} > {COSINE_ATOL}, {vs_exact:.2e} from float64 (torch's own {own:.2e})"
    return worst, cos


def build(tmp_path, family, name="st", **kwargs):
    kwargs.setdefault("max_seq_length", 16)  # shorter than LONG and than the position table
    return build_sentence_transformer(str(tmp_path / name), family, CONFIGS[family], seed=len(name), **kwargs)


PIPELINES = [dict(modes=[m]) for m in MODES] + [
    dict(modes=["cls", "max", "mean"]),  # several modes: concatenated in sentence-transformers' order
    dict(modes=["mean"], normalize=True),
    dict(modes=["mean"], dense=[(32, "Tanh")], normalize=True),
    dict(modes=["max"], dense=[(24, "GELU"), (16, "Identity")]),
    dict(modes=["lasttoken"], dense=[(32, "ReLU")], normalize=True),
]


@pytest.mark.parametrize("family", list(CONFIGS))
@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: "+".join(p["modes"]) + "".join(
    f"-dense{o}{a.lower()}" for o, a in p.get("dense", ())) + ("-norm" if p.get("normalize") else ""))
def test_encode_equals_sentence_transformers(tmp_path, paddle_quiet, family, pipeline):
    st = build(tmp_path, family, prompts={"query": "query: "}, **pipeline)
    convert(tmp_path / "st", tmp_path / "out", verify=False)
    encoder = SentenceEncoder(tmp_path / "out")
    for prompt_name in (None, "query"):
        want, exact = st_encode(st, prompt_name=prompt_name)
        got = encoder.encode(TEXTS, prompt_name=prompt_name, batch_size=4)
        assert got.dtype == np.float32
        assert_same_vectors(want, exact, got)
    assert np.array_equal(encoder.encode("Short"), encoder.encode(["Short"])[0])
    assert encoder.encode([]).shape == (0, st.get_sentence_embedding_dimension())


@pytest.mark.parametrize("family", list(CONFIGS))
def test_verify_passes_and_lists_the_pipeline(tmp_path, paddle_quiet, family):
    """Prompt excluded from pooling (INSTRUCTOR-style), a default prompt, lower-casing, Dense + Normalize."""
    build(tmp_path, family, modes=["mean"], dense=[(32, "Tanh")], normalize=True, include_prompt=False,
          prompts={"query": "query: ", "passage": "Represent this passage for retrieval: "},
          default_prompt_name="query", do_lower_case=True)
    result = convert(tmp_path / "st", tmp_path / "out", verify=True)
    text = result.verify_report["text"]
    assert text.rstrip().endswith("PASS")
    names = [o["name"] for o in result.verify_report["outputs"]]
    assert "sentence_embedding (default prompt 'query')" in names and "sentence_embedding (prompt 'passage')" in names
    assert any(n.startswith("pairwise cosine") for n in names)
    summary = [n for n in result.notes if n.startswith("sentence-transformers:")]
    assert summary == ["sentence-transformers: Transformer (max_seq_length 16, lower-cased) -> Pooling (mean, prompt "
                       "excluded) -> Dense 64->32 tanh -> Normalize; prompts: query (default), passage"]
    with open(tmp_path / "out" / "sentence_encoder.json", encoding="utf-8") as f:
        written = json.load(f)
    assert [m["type"] for m in written["modules"]] == ["Pooling", "Dense", "Normalize"]
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert 'SentenceEncoder("out").encode(' in card and "Pooling (mean, prompt excluded)" in card
    assert written["default_prompt_name"] == "query" and written["max_seq_length"] == 16


def test_verify_fails_on_a_wrong_pipeline(tmp_path, paddle_quiet):
    """The body alone would pass: the pipeline is what is wrong (pooling mode, Dense weights)."""
    build(tmp_path, "bert", modes=["mean"], dense=[(32, "Tanh")])
    convert(tmp_path / "st", tmp_path / "out", verify=False)
    pipeline_file = tmp_path / "out" / "sentence_encoder.json"
    original = pipeline_file.read_text(encoding="utf-8")
    pipeline_file.write_text(original.replace('"mean"', '"mean_sqrt_len_tokens"'), encoding="utf-8")
    report = verify(str(tmp_path / "st"), str(tmp_path / "out"))
    assert not report["ok"]
    assert not next(o for o in report["outputs"] if o["name"] == "sentence_embedding")["within"]
    assert all(o["within"] for o in report["outputs"] if o["name"].startswith("hidden_states"))

    pipeline_file.write_text(original, encoding="utf-8")
    from safetensors.numpy import load_file, save_file

    dense = tmp_path / "out" / "2_Dense" / "model.safetensors"
    tensors = load_file(str(dense))
    tensors["linear.weight"] = tensors["linear.weight"].T.copy().reshape(tensors["linear.weight"].shape)
    save_file(tensors, str(dense), metadata={"format": "np"})
    assert not verify(str(tmp_path / "st"), str(tmp_path / "out"))["ok"]


def test_export_back_is_byte_identical_and_loads_in_sentence_transformers(tmp_path, paddle_quiet):
    from sentence_transformers import SentenceTransformer

    st = build(tmp_path, "xlm-roberta", modes=["mean"], dense=[(32, "Tanh"), (16, "Identity")], normalize=True,
               prompts={"query": "query: "})
    convert(tmp_path / "st", tmp_path / "out", verify=False)
    result = export(tmp_path / "out", tmp_path / "back", verify=True)
    assert result.verify_report["text"].rstrip().endswith("PASS")
    src, back = tmp_path / "st", tmp_path / "back"
    # every weight file and every sentence-transformers file; config.json and the tokenizer files are written
    # by the body's export (equivalent, verified above), the source's README model card is not carried
    same = ["model.safetensors", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
            "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "3_Dense/config.json",
            "3_Dense/model.safetensors"]
    for rel in same:
        assert (src / rel).read_bytes() == (back / rel).read_bytes(), rel
    again = SentenceTransformer(str(back), device="cpu", local_files_only=True)
    for prompt_name in (None, "query"):
        np.testing.assert_array_equal(again.encode(TEXTS, prompt_name=prompt_name),
                                      st.encode(TEXTS, prompt_name=prompt_name))


def test_fine_tuned_dense_exports_what_paddle_holds(tmp_path, paddle_quiet):
    """A Dense layer changed in Paddle (as a fine-tune would) is what the exported model computes."""
    build(tmp_path, "bert", modes=["cls"], dense=[(32, "Tanh")])
    convert(tmp_path / "st", tmp_path / "out", verify=False, format="pdparams")
    encoder = SentenceEncoder(tmp_path / "out")
    import paddle

    dense = tmp_path / "out" / "2_Dense" / "model_state.pdparams"
    state = paddle.load(str(dense))
    state = {k: v * 1.5 for k, v in state.items()}
    paddle.save(state, str(dense))
    tuned = SentenceEncoder(tmp_path / "out").encode(TEXTS)
    assert np.abs(tuned - encoder.encode(TEXTS)).max() > 1e-3
    export(tmp_path / "out", tmp_path / "back", verify=True)
    from sentence_transformers import SentenceTransformer

    assert_same_vectors(*st_encode(SentenceTransformer(str(tmp_path / "back"), device="cpu")), tuned)


def test_dropout_module_is_the_identity(tmp_path, paddle_quiet):
    """sentence-transformers' Dropout module (between Dense layers in some models) does nothing at inference."""
    from sentence_transformers import SentenceTransformer

    build(tmp_path, "roberta", modes=["mean"], dense=[(32, "Tanh")], normalize=True)
    st = tmp_path / "st"
    os.makedirs(st / "2b_Dropout")
    (st / "2b_Dropout" / "config.json").write_text('{\n  "dropout": 0.2\n}', encoding="utf-8")
    _edit(st / "modules.json", lambda m: m.insert(3, {"idx": 3, "name": "3", "path": "2b_Dropout",
                                                      "type": "sentence_transformers.models.Dropout"}))
    result = convert(st, tmp_path / "out", verify=True)
    assert any("Dropout (the identity at inference)" in n for n in result.notes)
    model = SentenceTransformer(str(st), device="cpu")
    assert_same_vectors(*st_encode(model), SentenceEncoder(tmp_path / "out").encode(TEXTS, batch_size=4))
    export(tmp_path / "out", tmp_path / "back", verify=True)
    assert ((tmp_path / "back" / "2b_Dropout" / "config.json").read_bytes()
            == (st / "2b_Dropout" / "config.json").read_bytes())


def test_max_seq_length_past_the_positions(tmp_path, paddle_quiet):
    """No max_seq_length saved and a tokenizer with no maximum: sentence-transformers infers the RoBERTa body's
    max_position_embeddings (42), past its 40 usable positions, and fails on longer texts. Converted cut at 40 and
    said; verify runs sentence-transformers cut there too."""
    build(tmp_path, "roberta", modes=["mean"], normalize=True, max_seq_length=None)
    st = tmp_path / "st"
    (st / "sentence_bert_config.json").write_text('{"do_lower_case": false}', encoding="utf-8")
    _edit(st / "tokenizer_config.json", lambda c: c.update(model_max_length=int(1e30)))
    from sentence_transformers import SentenceTransformer

    with pytest.raises(IndexError):  # sentence-transformers' own failure, which verify must not stop at
        SentenceTransformer(str(st), device="cpu").encode([LONG])
    result = convert(st, tmp_path / "out", verify=True)
    assert any("max_seq_length 40; sentence-transformers' 42 is past the model's positions" in n for n in result.notes)
    assert "run with max_seq_length 40" in result.verify_report["text"]
    assert SentenceEncoder(tmp_path / "out").max_seq_length == 40


def test_old_layout_is_refused_by_name(tmp_path, paddle_quiet):
    build(tmp_path, "bert", modes=["mean"])
    st = tmp_path / "st"
    os.makedirs(st / "0_Transformer")
    for name in os.listdir(st):
        if os.path.isfile(st / name) and name not in ("modules.json", "config_sentence_transformers.json"):
            os.rename(st / name, st / "0_Transformer" / name)
    _edit(st / "modules.json", lambda m: m[0].update(path="0_Transformer"))
    with pytest.raises(ConversionError, match="modules.json: the Transformer module is in '0_Transformer'"):
        convert(st, tmp_path / "out", verify=False)


def test_bin_dense_weights_pdparams_output_and_one_liner(tmp_path, paddle_quiet):
    st = build(tmp_path, "roberta", modes=["weightedmean"], dense=[(32, "Sigmoid")], fmt="bin")
    assert os.path.isfile(tmp_path / "st" / "2_Dense" / "pytorch_model.bin")
    encoder = SentenceEncoder.from_pretrained(str(tmp_path / "st"), format="pdparams")  # converted into the cache
    assert os.path.isfile(os.path.join(encoder.path, "2_Dense", "model_state.pdparams"))
    assert_same_vectors(*st_encode(st), encoder.encode(TEXTS))
    assert encoder.similarity(encoder.encode(TEXTS[:2]), encoder.encode(TEXTS[:3])).shape == (2, 3)
    assert np.array_equal(encoder.encode(TEXTS, normalize_embeddings=True), encoder.encode(TEXTS, normalize=True))


def test_threads_get_their_own_vectors(tmp_path, paddle_quiet):
    st = build(tmp_path, "bert", modes=["mean"], normalize=True, prompts={"query": "query: "})
    convert(tmp_path / "st", tmp_path / "out", verify=False)
    encoder = SentenceEncoder(tmp_path / "out")
    want = {i: st_encode(st, TEXTS[i:] + TEXTS[:i], prompt_name="query" if i % 2 else None) for i in range(6)}
    got, errors = {}, []

    def work(i):
        try:
            for _ in range(3):
                got[i] = encoder.encode(TEXTS[i:] + TEXTS[:i], prompt_name="query" if i % 2 else None, batch_size=3)
                assert_same_vectors(*want[i], got[i])
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors[0]


def _edit(path, change):
    with open(path, encoding="utf-8") as f:
        value = json.load(f)
    change(value)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)


@pytest.mark.parametrize("case", ["layernorm module", "module before pooling", "activation", "dense shape",
                                  "no pooling", "pooling dimension", "default prompt", "escaping path"])
def test_what_cannot_be_run_is_refused_by_name(tmp_path, paddle_quiet, case):
    build(tmp_path, "bert", modes=["mean"], dense=[(32, "Tanh")], prompts={"query": "query: "})
    st = tmp_path / "st"
    if case == "layernorm module":
        _edit(st / "modules.json", lambda m: m.append({"idx": 3, "name": "3", "path": "3_LayerNorm",
                                                       "type": "sentence_transformers.models.LayerNorm"}))
        expect = "3_LayerNorm"
    elif case == "module before pooling":
        _edit(st / "modules.json", lambda m: m.insert(1, m.pop(2)))
        expect = "pooled first"
    elif case == "activation":
        _edit(st / "2_Dense" / "config.json",
              lambda c: c.update(activation_function="torch.nn.modules.activation.SiLU"))
        expect = "SiLU"
    elif case == "dense shape":
        _edit(st / "2_Dense" / "config.json", lambda c: c.update(out_features=31))
        expect = "linear.weight"
    elif case == "no pooling":
        _edit(st / "modules.json", lambda m: m.__delitem__(slice(1, None)))
        expect = "no Pooling"
    elif case == "pooling dimension":
        _edit(st / "1_Pooling" / "config.json", lambda c: c.update(word_embedding_dimension=65))
        expect = "word_embedding_dimension"
    elif case == "default prompt":
        _edit(st / "config_sentence_transformers.json", lambda c: c.update(default_prompt_name="passage"))
        expect = "default_prompt_name"
    else:
        _edit(st / "modules.json", lambda m: m[1].update(path="../elsewhere"))
        expect = "inside the model directory"
    with pytest.raises(ConversionError, match=expect) as e:
        convert(st, tmp_path / "out", verify=False)
    assert "\n" not in str(e.value)
    assert not os.path.exists(tmp_path / "out")


def test_not_a_sentence_transformers_conversion(tmp_path, paddle_quiet):
    from paddle_roberta.dev.synthetic import build_checkpoint

    build_checkpoint(str(tmp_path / "plain"), "BertModel", CONFIGS["bert"], vocab="wordpiece")
    convert(tmp_path / "plain", tmp_path / "out", verify=False)
    with pytest.raises(ConversionError, match="sentence_encoder.json: not found"):
        SentenceEncoder(tmp_path / "out")


@pytest.mark.parametrize("family,pipeline", [
    ("bert", dict(modes=["max", "lasttoken"], dense=[(32, "Tanh")], normalize=True, include_prompt=False)),
    ("roberta", dict(modes=["weightedmean"], normalize=True)),
    ("xlm-roberta", dict(modes=["cls", "mean_sqrt_len_tokens"], dense=[(24, "GELU")], include_prompt=False)),
])
def test_inference_export_gives_the_embeddings(tmp_path, paddle_quiet, family, pipeline):
    """Pooling, Dense and Normalize inside the static graph: Predictor.encode equals sentence-transformers' encode,
    with prompts (left out of the pooling by a pooling_mask input where the model says so) and buckets."""
    from paddle_roberta import export_inference
    from paddle_roberta.serving import Predictor

    st = build(tmp_path, family, prompts={"query": "query: "}, **pipeline)
    convert(tmp_path / "st", tmp_path / "out", verify=False)
    result = export_inference(tmp_path / "out", tmp_path / "served", source=tmp_path / "st")
    assert result.outputs == ["sentence_embedding"]
    assert ("pooling_mask" in result.inputs[-1]["name"]) == (not pipeline.get("include_prompt", True))
    assert result.verify_report["ok"] and "prompt 'query'" in result.verify_report["text"]
    predictor = Predictor(tmp_path / "served")
    for prompt_name in (None, "query"):
        assert_same_vectors(*st_encode(st, prompt_name=prompt_name),
                            predictor.encode(TEXTS, prompt_name=prompt_name, batch_size=3))
    np.testing.assert_array_equal(predictor(TEXTS)["sentence_embedding"], predictor.encode(TEXTS))
    np.testing.assert_array_equal(predictor.encode(TEXTS, normalize_embeddings=True),
                                  predictor.encode(TEXTS, normalize=True))
    readme = (tmp_path / "served" / "README.md").read_text(encoding="utf-8")
    assert "predictor.encode(" in readme and "SentenceEmbeddingPostHandler" in readme


def test_inference_export_failing_verification_writes_nothing(tmp_path, paddle_quiet):
    from paddle_roberta import export_inference

    build(tmp_path, "roberta", modes=["mean"], dense=[(32, "Tanh")])
    convert(tmp_path / "st", tmp_path / "out", verify=False)
    with pytest.raises(ConversionError, match=r"verification failed \(sentence_embedding") as e:
        export_inference(tmp_path / "out", tmp_path / "served", source=tmp_path / "st", atol=1e-12)
    assert "FAIL" in e.value.details and not os.path.exists(tmp_path / "served")


def test_simple_server_route_returns_the_embeddings(tmp_path, paddle_quiet):
    from test_simple_server import Server

    from paddle_roberta import export_inference

    st = build(tmp_path, "bert", modes=["mean"], dense=[(32, "Tanh")], include_prompt=False,
               prompts={"query": "query: "})
    convert(tmp_path / "st", tmp_path / "out", verify=False)
    export_inference(tmp_path / "out", tmp_path / "served")
    server = Server(tmp_path / "served", tmp_path)
    try:
        for parameters in ({}, {"prompt_name": "query", "batch_size": 2}, {"normalize": True}, {"prompt": "query: "}):
            r = server.post({"data": {"text": TEXTS}, "parameters": parameters})
            assert r.status_code == 200, r.text
            got = np.asarray(r.json()["result"]["sentence_embedding"], dtype=np.float32)
            assert_same_vectors(*st_encode(st, prompt_name=parameters.get("prompt_name"),
                                          prompt=parameters.get("prompt"),
                                          normalize_embeddings=parameters.get("normalize", False)), got)
        for body, message in (({"data": {"text": ["a"]}, "parameters": {"prompt_name": "nope"}}, "prompt_name"),
                              ({"data": {"text": ["a"], "text_pair": ["b"]}}, "single texts"),
                              ({"data": {"text": ["a"]}, "parameters": {"normalize": "yes"}}, "normalize"),
                              ({"data": {"text": ["a"]}, "parameters": {"max_seq_len": 1}}, "max_seq_len"),
                              ({"data": {"text": ["a"]}, "parameters": {"normalise": True}}, "parameters.normalise"),
                              ({"data": {"text": ["a"]}, "parameters": {"prompt": 3}}, "parameters.prompt")):
            r = server.post(body)
            assert r.status_code == 422 and message in r.json()["detail"], r.text
        assert server.post({"data": {"text": "one"}}).status_code == 200
    finally:
        server.close()
