"""serving.Predictor as a server calls it: shared by threads, one string, a too-long max_length, the wrong
directory, an empty batch."""

import threading

import numpy as np
import pytest
from conftest import TINY

from paddle_roberta import ConversionError, convert
from paddle_roberta.dev.synthetic import build_checkpoint
from paddle_roberta.export_inference import export_inference
from paddle_roberta.serving import Predictor

TEXTS = ["Hello world", "a longer second text, with more words in it than the first", "third", "four and five",
         "the fifth text", "sixth text here", "seven"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, paddle_quiet):
    """A RoBERTa classifier (3 labels, 64 positions) exported for Paddle Inference, and its PaddleNLP directory."""
    tmp = tmp_path_factory.mktemp("serving")
    src, pd, served = tmp / "hf", tmp / "paddle", tmp / "served"
    build_checkpoint(str(src), "RobertaForSequenceClassification",
                     dict(TINY["roberta"], vocab_size=700, max_position_embeddings=66),
                     seed=42, vocab="bpe")
    convert(src, pd, verify=False)
    export_inference(pd, served, verify=False)
    return served, pd


def test_one_predictor_shared_by_four_threads(exported):
    """4 threads, each its own batch shape (1 to 4 texts of different lengths), 50 calls each at once, through
    one Predictor: every output equal, bit for bit, to the same call made from one thread."""
    predictor = Predictor(str(exported[0]))
    batches = [TEXTS[:1], TEXTS[1:3], TEXTS[3:6], TEXTS[2:6]]
    want = [predictor(b)["logits"] for b in batches]
    assert len({w.shape for w in want}) == 4
    start, got, errors = threading.Barrier(4), [[] for _ in batches], []

    def serve(i):
        try:
            start.wait()
            for _ in range(50):
                got[i].append(predictor(batches[i])["logits"])
        except Exception as e:  # noqa: BLE001 -- reported below, with the thread
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    wrong = [(i, k) for i in range(4) for k, g in enumerate(got[i]) if not np.array_equal(g, want[i])]
    assert [len(g) for g in got] == [50] * 4 and not wrong, f"{len(wrong)} of 200 outputs differ, first {wrong[:5]}"


def test_every_run_is_on_one_thread_whoever_calls(exported, monkeypatch):
    """oneDNN keeps weight copies per calling thread (bench/bench_predictor_threads.py: ~0.65 GB each for a
    distilroberta-base classifier), so a Predictor called from 8 threads must run the model on one."""
    predictor = Predictor(str(exported[0]))
    ran_on, run_on = set(), Predictor._run_on

    def recording(self, p, values):
        ran_on.add(threading.get_ident())
        return run_on(self, p, values)

    monkeypatch.setattr(Predictor, "_run_on", recording)
    threads = [threading.Thread(target=predictor, args=(TEXTS[:i + 1],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    predictor(TEXTS)
    assert len(ran_on) == 1 and threading.get_ident() not in ran_on, ran_on


def test_a_string_is_one_text(exported):
    predictor = Predictor(str(exported[0]))
    one = predictor("Hello world, one text")["logits"]
    assert one.shape == (1, 3)
    np.testing.assert_array_equal(one, predictor(["Hello world, one text"])["logits"])
    pair = predictor("first text", "its pair")["logits"]
    assert pair.shape == (1, 3)
    np.testing.assert_array_equal(pair, predictor(["first text"], ["its pair"])["logits"])
    assert not np.array_equal(pair, predictor("first text")["logits"])  # the pair was used


def test_max_length_past_the_positions_is_clamped_with_a_warning(exported):
    """64 positions (RoBERTa's 66 less its pad + 1 offset): max_length 500 reads the first 64 tokens, as the
    default does, and says so; a shorter max_length is kept."""
    predictor = Predictor(str(exported[0]))
    assert predictor.spec["max_length"] == 64
    long = " ".join(["word"] * 200)
    with pytest.warns(UserWarning, match="max_length 500 is past the model's 64 positions; clamped to 64"):
        clamped = predictor(long, max_length=500)["logits"]
    np.testing.assert_array_equal(clamped, predictor(long)["logits"])
    assert predictor.tokenize(long, max_length=500)["input_ids"].shape == (1, 64)
    assert predictor.tokenize(long, max_length=10)["input_ids"].shape == (1, 10)


def test_a_directory_that_is_not_an_export_says_how_to_make_one(exported, tmp_path):
    for path, said in ((exported[1], str(exported[1] / "inference.json") + ": not found"),
                       (tmp_path / "missing", f"{tmp_path / 'missing'}: no such directory")):
        with pytest.raises(ConversionError) as e:
            Predictor(str(path))
        message = str(e.value)
        assert "\n" not in message and said in message, message
        assert "paddle-roberta export DIR DEST --to inference` (or --to onnx)" in message, message


def test_an_empty_batch_gives_empty_outputs(exported):
    predictor = Predictor(str(exported[0]))
    for out in (predictor([]), predictor.run(predictor.tokenize([]))):
        assert list(out) == ["logits"] and out["logits"].shape == (0, 3) and out["logits"].dtype == np.float32
    assert predictor(TEXTS[:2])["logits"].shape == (2, 3)  # and it still serves


@pytest.mark.parametrize("family,hf_class", [("bert", "BertModel"), ("bert", "BertForTokenClassification"),
                                             ("bert", "BertForMultipleChoice"), ("roberta", "RobertaForCausalLM")])
def test_empty_batch_shapes_for_every_kind_of_output(tmp_path, paddle_quiet, family, hf_class):
    """Per-output rank, trailing sizes (the choices of multiple choice too) and dtype as a real call gives them;
    0 for the batch and, for per-token outputs, the sequence, which an empty batch does not have."""
    src, pd, served = tmp_path / "hf", tmp_path / "paddle", tmp_path / "served"
    build_checkpoint(str(src), hf_class, dict(TINY[family], vocab_size=700, max_position_embeddings=66), seed=43,
                     vocab="wordpiece" if family == "bert" else "bpe")
    convert(src, pd, verify=False)
    export_inference(pd, served, verify=False)
    predictor = Predictor(str(served))
    choices = hf_class.endswith("MultipleChoice")
    real = predictor([["a text", "another"]] * 2 if choices else ["a text", "another"])
    empty = predictor([])
    assert list(empty) == list(real)
    for name, value in real.items():
        zeroed = (0, 0) if name in predictor.spec["per_token"] else (0,)
        assert empty[name].shape == zeroed + value.shape[len(zeroed):] and empty[name].dtype == value.dtype, name
    if choices:
        with pytest.raises(TypeError, match="list of lists of choices"):
            predictor(["a text", "another"])  # one question's choices, not wrapped: would be read letter by letter


BUCKET_CASES = [("roberta", "RobertaForSequenceClassification"), ("bert", "BertModel"),
                ("bert", "BertForTokenClassification"), ("bert",
                                                         "BertForMultipleChoice"), ("roberta", "RobertaForCausalLM")]


@pytest.mark.parametrize("family,hf_class", BUCKET_CASES)
def test_length_buckets_give_the_unbucketed_outputs_at_the_real_tokens(tmp_path, paddle_quiet, family, hf_class):
    """Every batch is padded to a multiple of 32 tokens (or the model's 64 positions) before it runs; the outputs
    at the real tokens equal those of the same batch run at its own length, per-token outputs come back at that
    length, and the graph only ever sees the bucket lengths. Tolerance 1e-5 x max(1, max|output|): the padded
    positions are masked out, so the two differ only by oneDNN choosing other GEMM blockings for another shape
    (measured: below 1e-6)."""
    src, pd, served = tmp_path / "hf", tmp_path / "paddle", tmp_path / "served"
    build_checkpoint(str(src), hf_class, dict(TINY[family], vocab_size=700, max_position_embeddings=66), seed=44,
                     vocab="wordpiece" if family == "bert" else "bpe")
    convert(src, pd, verify=False)
    export_inference(pd, served, verify=False)
    bucketed, plain = Predictor(str(served)), Predictor(str(served), buckets=None)
    limit = bucketed.spec["max_length"]  # 64 for RoBERTa (66 less pad + 1), 66 for BERT
    assert bucketed.buckets == ((32, 64) if limit == 64 else (32, 64, 66)) and plain.buckets == ()
    seen, run_on = [], Predictor._run_on

    def recording(self, p, values):
        seen.append(values[0].shape[-1])
        return run_on(self, p, values)

    choices = hf_class.endswith("MultipleChoice")
    long = " ".join(["word"] * 80)
    batches = [TEXTS[:1], TEXTS[:3], TEXTS, [TEXTS[2], long], [long] * 2, ["", TEXTS[1]]]
    for batch in batches:
        feed = plain.tokenize([[t, t[::-1]] for t in batch] if choices else batch)
        length = feed["input_ids"].shape[-1]
        want = plain.run(feed)
        seen.clear()
        with pytest.MonkeyPatch.context() as m:
            m.setattr(Predictor, "_run_on", recording)
            got = bucketed.run(feed)
        assert seen == [32 if length <= 32 else 64 if length <= 64 else 66], (length, seen)
        assert list(got) == list(want)
        for name, value in want.items():
            assert got[name].shape == value.shape, (name, got[name].shape, value.shape)
            real = feed["attention_mask"].astype(bool) if name in plain.spec["per_token"] else slice(None)
            scale = max(1.0, float(np.abs(value[real]).max()))
            np.testing.assert_allclose(got[name][real], value[real], rtol=0, atol=1e-5 * scale, err_msg=name)


def test_bucket_settings(exported):
    from paddle_roberta.serving.buckets import bucket_for, bucket_lengths

    assert bucket_lengths(512) == tuple(range(32, 513, 32))
    assert bucket_lengths(514 - 2, 100) == (100, 200, 300, 400, 500, 512)
    assert [bucket_for(n, (32, 64)) for n in (1, 32, 33, 64, 65)] == [32, 32, 64, 64, 65]
    with pytest.raises(ValueError, match="positive number of tokens"):
        bucket_lengths(512, 0)
    assert Predictor(str(exported[0]), buckets=16).buckets == (16, 32, 48, 64)
    assert Predictor(str(exported[0]), buckets=[48, 8]).buckets == (8, 48)
    with pytest.raises(ValueError, match="positive lengths"):
        Predictor(str(exported[0]), buckets=[0, 32])


def test_a_max_length_with_no_room_for_text_is_refused_and_a_list_of_lists_is_not_texts(exported):
    predictor = Predictor(str(exported[0]))
    with pytest.raises(ValueError, match="max_length 2 leaves no room for the text: at least 3"):
        predictor("a text longer than two tokens", max_length=2)
    with pytest.raises(ValueError, match="at least 6"):
        predictor("first", "second", max_length=5)
    assert predictor("a text", max_length=3)["logits"].shape == (1, 3)
    with pytest.raises(TypeError, match="lists of choices are for multiple-choice models"):
        predictor([["a"]])


def test_overwrite_replaces_its_own_static_graph_folder_and_nothing_else(exported, tmp_path):
    """The static graph lives in auto_static/ (where PaddleNLP's SimpleServer looks): --overwrite replaces an
    export whose every file there is as written, and refuses, naming the file, one with a file added or changed."""
    import shutil

    served, pd = exported
    copy = tmp_path / "served"
    shutil.copytree(served, copy)
    export_inference(pd, copy, overwrite=True, verify=False)  # its own, unchanged: replaced
    assert (copy / "auto_static" / "inference.pdiparams").is_file()
    (copy / "auto_static" / "notes.txt").write_text("mine")
    with pytest.raises(ConversionError, match=r"auto_static/notes\.txt"):
        export_inference(pd, copy, overwrite=True, verify=False)
    (copy / "auto_static" / "notes.txt").unlink()
    with open(copy / "auto_static" / "inference.pdiparams", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ConversionError, match=r"auto_static/inference\.pdiparams \(changed\)"):
        export_inference(pd, copy, overwrite=True, verify=False)
    (copy / "auto_static" / "inference.pdiparams").unlink()
    (copy / "auto_static" / "extra").mkdir()
    with pytest.raises(ConversionError, match=r"auto_static/extra/"):
        export_inference(pd, copy, overwrite=True, verify=False)
