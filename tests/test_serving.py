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
    build_checkpoint(str(src), "RobertaForSequenceClassification", dict(TINY["roberta"], vocab_size=700, max_position_embeddings=66),
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
    for path in (exported[1], tmp_path / "missing"):
        with pytest.raises(ConversionError) as e:
            Predictor(str(path))
        message = str(e.value)
        assert "\n" not in message and str(path / "inference.json") in message, message
        assert "paddle-roberta export DIR DEST --to inference" in message, message


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
