"""paddle_roberta.pipeline against transformers.pipeline on the torch original: the same labels, tokens and sequences,
scores within 1e-5, on trained-looking models of each family (Chinese WordPiece BERT, byte-level BPE RoBERTa with
added tokens, SentencePiece XLM-R), in dygraph and through the Paddle Inference export."""

import numpy as np
import pytest
from test_users_numbers import PREFIX, SMALL, VOCAB, fine_tune_with_added_tokens, hf_tokenizer

from paddle_roberta import convert, export_inference, pipeline
from paddle_roberta.dev.synthetic import build_checkpoint

# Scores are probabilities (or logits with function_to_apply="none", a few units at most here): both frameworks run the
# same float32 math in another order, 1e-6 apart at these sizes; a wrong weight or label order is off by far more.
ATOL = 1e-5
LABELS = {"0": "negative", "1": "neutral", "2": "positive"}
TEXTS = [
    "这家餐厅的菜很好吃，服务也很周到。", "今天天气不错", "我不喜欢这部电影", "Hello world", "the movie was great",
    "混合 text 和中文 mixed", "emoji 😀 inside 🎉", "😀", "", "  spaces  around  ", "数字 12345 and 3.14",
    "A much longer sentence that goes on and on, with commas, clauses, and a few more words for good measure.",
    "北京是中国的首都。上海是最大的城市。", "covid19 <new_tok> tokens", "UPPER lower MiXeD", "标点！？。，",
    "tab\tand\nnewline", "naïve café résumé", "ok", "再见",
    "很长的文本" * 40,  # past the model's 64 positions: truncation=True on both sides
]


NER = {"0": "O", "1": "B-PER", "2": "I-PER", "3": "B-LOC", "4": "I-LOC"}


def family_dir(tmp_path_factory, family, head):
    root = tmp_path_factory.mktemp(f"{family}-{head}")
    src, out = root / "hf", root / "paddle"
    labels = {"ForTokenClassification": NER, "ForQuestionAnswering": {"0": "LABEL_0", "1": "LABEL_1"}}.get(head, LABELS)
    config = dict(SMALL[family], num_labels=len(labels), id2label=labels,
                  label2id={v: int(k) for k, v in labels.items()})
    if family == "roberta":  # a fine-tune with added tokens (two labels)
        model, tok = fine_tune_with_added_tokens(src, family, head)
        if head in ("ForSequenceClassification", "ForTokenClassification"):
            two = {0: "negative", 1: "positive"} if head == "ForSequenceClassification" else {0: "O", 1: "I-PER"}
            model.config.id2label, model.config.label2id = two, {v: k for k, v in two.items()}
            model.save_pretrained(str(src))
    else:
        model = build_checkpoint(str(src), PREFIX[family] + head, config, vocab=VOCAB[family])
        tok = hf_tokenizer(src, family)
    convert(src, out, verify=False)
    return model.eval(), tok, out


@pytest.fixture(scope="module", params=["bert", "roberta", "xlm-roberta"])
def family(request):
    return request.param


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, family):
    return family_dir(tmp_path_factory, family, "ForSequenceClassification")


def hf_pipeline(task, model, tok):
    import transformers

    return transformers.pipeline(task, model=model, tokenizer=tok, device="cpu")


def assert_same(ours, theirs, where=""):
    """Equal structures, floats within ATOL, everything else identical."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and sorted(ours) == sorted(theirs), f"{where}: keys {ours} vs {theirs}"
        for k in theirs:
            assert_same(ours[k], theirs[k], f"{where}.{k}")
    elif isinstance(theirs, (list, tuple)):
        assert isinstance(ours, list) and len(ours) == len(theirs), f"{where}: {len(ours)} vs {len(theirs)} items"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, (float, np.floating)):  # transformers' NER scores are numpy float32
        assert isinstance(ours, float) and abs(ours - float(theirs)) <= ATOL, f"{where}: {ours} vs {theirs}"
    else:
        assert ours == theirs, f"{where}: {ours!r} vs {theirs!r}"


@pytest.mark.parametrize("options", [{}, {"top_k": 2}, {"top_k": None}, {"function_to_apply": "sigmoid"},
                                     {"function_to_apply": "none", "top_k": None}])
def test_text_classification(classifier, paddle_quiet, options):
    model, tok, out = classifier
    theirs = hf_pipeline("text-classification", model, tok)
    ours = pipeline("text-classification", out)
    cut = dict(truncation=True, max_length=64)
    assert_same(ours(TEXTS, **cut, **options), theirs(TEXTS, **cut, **options), "batch")
    assert_same(ours(TEXTS[0], **options), theirs(TEXTS[0], **options), "one text")
    assert_same(list(ours(iter(TEXTS[:5]), batch_size=2, **options)), theirs(TEXTS[:5], **options), "generator")


def test_a_generator_with_a_progress_count(classifier, paddle_quiet, capsys):
    model, tok, out = classifier
    texts = (t for t in TEXTS[:7])
    answers = pipeline("text-classification", out, batch_size=3)(texts, progress=True)
    assert not isinstance(answers, list)  # answered as they are asked for
    assert_same(list(answers), hf_pipeline("text-classification", model, tok)(TEXTS[:7]))
    assert "text-classification:7text" in capsys.readouterr().err.replace(" ", "")


def test_many_threads_with_other_lengths_at_once(classifier, paddle_quiet):
    """A server shares one pipeline between threads whose requests cut at other lengths: each gets its own answer."""
    from concurrent.futures import ThreadPoolExecutor

    _, _, out = classifier
    pipe = pipeline("text-classification", out)
    calls = [(TEXTS[i % 21:i % 21 + 4] or TEXTS[:4], 8 + 4 * (i % 10)) for i in range(40)]
    want = [pipe(texts, truncation=True, max_length=n) for texts, n in calls]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda c: pipe(c[0], truncation=True, max_length=c[1]), calls))
    assert_same(got, want)


def test_text_pairs(classifier, paddle_quiet):
    model, tok, out = classifier
    pairs = [{"text": a, "text_pair": b} for a, b in zip(TEXTS[:8], TEXTS[8:16])]
    cut = dict(truncation=True, max_length=64, top_k=None)
    theirs = hf_pipeline("text-classification", model, tok)
    assert_same(pipeline("sentiment-analysis", out)(pairs, **cut), theirs(pairs, **cut))


def test_fill_mask(tmp_path_factory, family, paddle_quiet):
    model, tok, out = family_dir(tmp_path_factory, family, "ForMaskedLM")
    m = tok.mask_token
    texts = [f"北京是{m}国的首都", f"the {m} of the world", f"{m}", f"emoji 😀 {m} here", f"two {m} masks {m} here",
             f"混合 {m} mixed", f"{m} at the start", f"at the end {m}", f"UPPER {m} lower", f"标点{m}！"]
    texts += [f"{t[:6]}{m}{t[6:]}" for t in TEXTS[:10]]  # 20 in all: every kind of text, a mask inside
    theirs, ours = hf_pipeline("fill-mask", model, tok), pipeline("fill-mask", out)
    assert_same(ours(texts), theirs(texts), "batch")
    assert_same(ours(texts[1], top_k=3), theirs(texts[1], top_k=3), "top_k")
    targets = [t for t in tok.convert_ids_to_tokens(list(range(10, 20)))]
    assert_same(ours(texts[1], targets=targets), theirs(texts[1], targets=targets), "targets")


@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
def test_token_classification(tmp_path_factory, family, paddle_quiet, strategy):
    model, tok, out = ner_dirs(tmp_path_factory, family)
    theirs = hf_pipeline("token-classification", model, tok)
    ours = pipeline("ner", out)
    texts = TEXTS
    assert_same(ours(texts, aggregation_strategy=strategy), theirs(texts, aggregation_strategy=strategy), strategy)
    assert_same(ours(texts[0], aggregation_strategy=strategy, ignore_labels=[]),
                theirs(texts[0], aggregation_strategy=strategy, ignore_labels=[]), "one text")


_NER = {}


def ner_dirs(tmp_path_factory, family):
    if family not in _NER:
        model, tok, out = family_dir(tmp_path_factory, family, "ForTokenClassification")
        tok.model_max_length = 64  # as a hub tokenizer says its model's length (512): the NER pipeline truncates there
        _NER[family] = model, tok, out
    return _NER[family]


QUESTIONS = [("北京是哪国的首都？", "北京是中国的首都。上海是最大的城市，有很多人口。"),
             ("Where is the capital?", "The capital is Beijing, a large city in the north of China."),
             ("emoji 😀?", "an emoji 😀 inside 🎉 a context with mixed 中文 text"),
             ("long?", " ".join(TEXTS[:12]) * 2),  # past one window: split with doc_stride
             ("covid19 <new_tok>?", "tokens covid19 and <new_tok> appear here")]
QUESTIONS += [(q, c) for q, c in zip(TEXTS[:18], reversed(TEXTS[2:20])) if q.strip() and c.strip()]  # 21 in all


@pytest.mark.parametrize("options", [{}, {"top_k": 3}, {"handle_impossible_answer": True}, {"max_answer_len": 3},
                                     {"align_to_words": False, "top_k": 2}, {"doc_stride": 16}])
def test_question_answering(tmp_path_factory, family, paddle_quiet, options):
    model, tok, out = qa_dirs(tmp_path_factory, family)
    theirs, ours = hf_pipeline("question-answering", model, tok), pipeline("question-answering", out)
    examples = [{"question": q, "context": c} for q, c in QUESTIONS]
    want = theirs(question=[q for q, _ in QUESTIONS], context=[c for _, c in QUESTIONS], **options)
    assert_same(ours(examples, **options), want, "list")
    q, c = QUESTIONS[0]
    assert_same(ours(question=q, context=c, **options), theirs(question=q, context=c, **options), "keywords")


def qa_dirs(tmp_path_factory, family):
    if ("qa", family) not in _NER:
        model, tok, out = family_dir(tmp_path_factory, family, "ForQuestionAnswering")
        tok.model_max_length = 64
        _NER["qa", family] = model, tok, out
    return _NER["qa", family]


def test_feature_extraction(tmp_path_factory, family, paddle_quiet):
    model, tok, out = family_dir(tmp_path_factory, family, "Model")
    theirs, ours = hf_pipeline("feature-extraction", model, tok), pipeline("feature-extraction", out)
    got = ours(TEXTS, truncation=True, max_length=64)
    want = theirs(TEXTS, truncation=True, tokenize_kwargs={"max_length": 64})
    assert [np.shape(g) for g in got] == [np.shape(w) for w in want]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=ATOL, rtol=0)


def test_through_the_inference_export(classifier, tmp_path_factory, paddle_quiet):
    model, tok, out = classifier
    served = tmp_path_factory.mktemp("served") / "served"
    export_inference(out, served, verify=False)
    theirs, ours = hf_pipeline("text-classification", model, tok), pipeline("text-classification", served)
    cut = dict(truncation=True, max_length=64, top_k=None)
    assert_same(ours(TEXTS, **cut), theirs(TEXTS, **cut))


@pytest.mark.parametrize("task, family_name", [("fill-mask", "bert"), ("token-classification", "roberta"),
                                               ("question-answering", "xlm-roberta"),
                                               ("feature-extraction", "roberta")])
def test_every_task_through_the_inference_export(tmp_path_factory, paddle_quiet, task, family_name):
    """The export runs through Paddle Inference (Predictor: buckets, one worker thread): the same answers."""
    if task == "token-classification":
        model, tok, out = ner_dirs(tmp_path_factory, family_name)
    elif task == "question-answering":
        model, tok, out = qa_dirs(tmp_path_factory, family_name)
    else:
        model, tok, out = family_dir(tmp_path_factory, family_name, "ForMaskedLM" if task == "fill-mask" else "Model")
    served = tmp_path_factory.mktemp("served") / "served"
    export_inference(out, served, verify=False)
    theirs, ours = hf_pipeline(task, model, tok), pipeline(task, served)
    if task == "question-answering":
        assert_same(ours([{"question": q, "context": c} for q, c in QUESTIONS]),
                    theirs(question=[q for q, _ in QUESTIONS], context=[c for _, c in QUESTIONS]))
    elif task == "fill-mask":
        texts = [f"{t[:6]}{tok.mask_token}{t[6:]}" for t in TEXTS[:20]]
        assert_same(ours(texts, top_k=3, truncation=True, max_length=64),
                    theirs(texts, top_k=3, tokenizer_kwargs={"truncation": True, "max_length": 64}))
    elif task == "token-classification":
        assert_same(ours(TEXTS, aggregation_strategy="average"), theirs(TEXTS, aggregation_strategy="average"))
    else:
        got = ours(TEXTS, truncation=True, max_length=64)
        want = theirs(TEXTS, truncation=True, tokenize_kwargs={"max_length": 64})
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, atol=ATOL, rtol=0)


@pytest.mark.parametrize("call, message", [
    (lambda p: p([]), "empty list"),
    (lambda p: p([3]), "input 0 is a int"),
    (lambda p: p("x", top_k=0), "top_k must be a positive integer"),
    (lambda p: p("x", topk=1), "topk is not an option"),
    (lambda p: p("x", function_to_apply="relu"), "function_to_apply must be one of"),
    (lambda p: p(["很长的文本" * 40]), "pass truncation=True"),
    (lambda p: p([{"text": "a", "pair": "b"}]), "a text pair is"),
    (lambda p: p("x", truncation="yes"), "truncation must be True or False"),
])
def test_bad_input_is_one_line(classifier, paddle_quiet, call, message):
    with pytest.raises(ValueError) as e:
        call(pipeline("text-classification", classifier[2]))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_options_of_the_other_tasks(tmp_path_factory, paddle_quiet):
    ner = pipeline("ner", ner_dirs(tmp_path_factory, "bert")[2])
    qa = pipeline("question-answering", qa_dirs(tmp_path_factory, "bert")[2])
    for call, message in [
        (lambda: ner("hi", ignore_labels="O"), "ignore_labels must be a list of label names"),
        (lambda: ner("hi", aggregation_strategy="best"), "aggregation_strategy must be one of"),
        (lambda: qa(question="很长的问题" * 40, context="北京"), "question 0 takes"),
        (lambda: qa(question="谁", context="北京" * 50, max_seq_len=5), "lower doc_stride or raise max_seq_len"),
        (lambda: qa(question=["a", "b"], context=["c"]), "2 questions and 1 contexts"),
        (lambda: qa({"question": "", "context": "c"}), "both non-empty"),
    ]:
        with pytest.raises(ValueError) as e:
            call()
        assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_a_text_pair_answers_as_transformers_does(classifier, paddle_quiet):
    """One {"text", "text_pair"} gives the bare answer, one string a list of one: transformers' shapes."""
    model, tok, out = classifier
    theirs, ours = hf_pipeline("text-classification", model, tok), pipeline("text-classification", out)
    pair = {"text": "今天", "text_pair": "天气不错"}
    assert_same(ours(pair), theirs(pair))
    assert isinstance(ours(pair), dict) and isinstance(ours("今天"), list)


def test_a_hugging_face_directory_is_converted_first(classifier, paddle_quiet):
    model, tok, out = classifier
    src = out.parent / "hf"
    tok.save_pretrained(str(src))  # what the source holds already (a fine-tune's own tokenizer)
    assert_same(pipeline("text-classification", src)(TEXTS[:5]), hf_pipeline("text-classification", model, tok)(
        TEXTS[:5]))


def test_wrong_task_for_the_model(classifier, paddle_quiet):
    with pytest.raises(ValueError, match="fill-mask needs a .*ForMaskedLM"):
        pipeline("fill-mask", classifier[2])
    with pytest.raises(ValueError, match="is not one of"):
        pipeline("summarization", classifier[2])
