"""Build random, seeded Hugging Face checkpoints of any BERT/RoBERTa shape, with no download.

Used by the demo, the tests and the benchmark: hub weights cannot be fetched here. Every
parameter is redrawn after transformers' initialisation so that the model looks trained: an
initialiser leaves LayerNorms at 1/0, biases at 0 and the pad rows of the embeddings at 0, and
each of those hides a real difference (a swapped weight/bias, a missing LayerNorm, or PaddleNLP's
``padding_idx`` zeroing the pad embedding, which only shows when that row is not zero).
"""

from __future__ import annotations

import json
import os

BPE_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def hf_model(hf_class: str, config: dict, seed: int = 0):
    """A transformers model of class ``hf_class`` (e.g. "BertForMaskedLM") with random, trained-looking weights."""
    import torch
    import transformers

    config = dict(config)
    config.pop("architectures", None)
    cfg_cls = (transformers.XLMRobertaConfig if hf_class.startswith("XLMRoberta")
               else transformers.RobertaConfig if hf_class.startswith("Roberta") else transformers.BertConfig)
    cfg = cfg_cls(**{k: v for k, v in config.items() if k != "model_type"})
    if hf_class.endswith("ForCausalLM"):
        cfg.is_decoder = True
    torch.manual_seed(seed)
    model = getattr(transformers, hf_class)(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied parameters (MLM decoder) appear once
            p.copy_(trained_looking(name, p.shape, gen))
    return model.eval()


# Magnitudes like a trained BERT/RoBERTa's, as published analyses of bert-base / roberta-base describe
# them (not measured here: the hub is out of reach): Linear weights std ~0.04 (twice the 0.02 init),
# embedding rows std ~0.05 with no zero row, LayerNorm gains spread around 1 with a few "outlier"
# dimensions several times larger (Kovaleva et al. 2021), biases and LayerNorm shifts of ~0.1.
LINEAR_STD, EMBEDDING_STD, GAIN_SPREAD, OUTLIER_GAIN, BIAS_STD = 0.04, 0.05, 0.3, 3.0, 0.1


def trained_looking(name: str, shape, gen):
    import torch

    if "LayerNorm.weight" in name or "layer_norm.weight" in name:
        gain = 1 + GAIN_SPREAD * torch.randn(shape, generator=gen)
        gain[:: max(1, shape[0] // 2)] = OUTLIER_GAIN  # two outlier dimensions: 0 and H/2
        return gain
    if name.endswith("bias"):
        return BIAS_STD * torch.randn(shape, generator=gen)
    if "embeddings" in name:  # every row, the pad row included
        return EMBEDDING_STD * torch.randn(shape, generator=gen)
    return LINEAR_STD * torch.randn(shape, generator=gen)


def build_checkpoint(out_dir: str, hf_class: str, config: dict, *, seed: int = 0, fmt: str = "safetensors",
                     vocab: str | None = None, config_json: dict | None = None):
    """Save a random, trained-looking ``hf_class`` to ``out_dir`` as transformers does; return the model.

    ``fmt``: "safetensors" or "bin". ``vocab``: "wordpiece" writes vocab.txt, "bpe" vocab.json and
    merges.txt, vocabularies of the model's size that tokenize real text; "sentencepiece" a SentencePiece
    model (XLM-R's sentencepiece.bpe.model) trained on a multilingual corpus, at most the model's size. ``config_json``
    replaces the
    config.json transformers writes (e.g. CLUE's, which says roberta and has no architectures).
    """
    model = hf_model(hf_class, config, seed)
    model.save_pretrained(out_dir, safe_serialization=(fmt == "safetensors"))
    if config_json is not None:
        with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config_json, f, indent=2)
    size = model.config.vocab_size
    if vocab == "wordpiece":
        write_wordpiece_vocab(os.path.join(out_dir, "vocab.txt"), size)
    elif vocab == "bpe":
        write_byte_level_bpe(out_dir, size)
    elif vocab == "sentencepiece":
        write_sentencepiece(out_dir, size)
    elif vocab is not None:
        raise ValueError(f"vocab {vocab!r}")
    return model


def write_wordpiece_vocab(path: str, size: int):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(wordpiece_tokens(size)) + "\n")


def wordpiece_tokens(size: int) -> list:
    """A CLUE-shaped WordPiece vocabulary of ``size`` lines: specials, English words and ## pieces,
    punctuation (ASCII and full-width), then CJK characters, simplified and traditional."""
    words = ("the of and to in is that for it as was with be by on not he this are or his from at which but have an "
             "they you were her she there been one all we their has would when if so no will more can out up other "
             "hello world cafe naive resume zurich facade english text number data model token chinese mixed long "
             "control chars zero width leading trailing spaces tabs new lines runs question answer transformer encoder "
             "capital france paris sunny day let go for walk park natural language processing important field "
             "artificial intelligence").split()
    pieces = ["##s", "##ed", "##ing", "##er", "##ly", "##tion", "##al", "##e", "##a", "##o", "##i", "##n", "##t", "##r"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    upper = [w.capitalize() for w in words[:40]] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    symbols = list("0123456789.,;:!?'\"()[]{}-+*/=<>@#$%^&_|~`\\") + ["##" + d for d in "0123456789"]
    full_width = list("，。！？；：（）【】「」、·…—") + ["™", "©", "½", "¾", "°", "±", "→", "★", "é", "ü", "å"]
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words + pieces + letters + upper + symbols + full_width
    tokens += list("繁體與簡轉換學習驗")
    tokens = list(dict.fromkeys(tokens))  # one line per token: a repeated line would leave an id unused
    seen = set(tokens)
    cp = 0x4E00
    while len(tokens) < size:
        if chr(cp) not in seen:
            tokens.append(chr(cp))
        cp += 1
    return tokens[:size]


def write_byte_level_bpe(folder: str, size: int):
    """vocab.json + merges.txt: a byte-level BPE trained with the tokenizers library on a small
    English corpus, its vocabulary filled up to ``size`` entries with unused placeholder tokens."""
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    corpus = ["The capital of France is Paris.", "It is a sunny day, let's go for a walk in the park!",
              "Natural language processing is an important field of artificial intelligence.",
              "The quick brown fox jumps over the lazy dog.", "Hello world, café naïve résumé 3.14"] * 20
    bpe.train_from_iterator(corpus, vocab_size=min(size, 600), min_frequency=1, show_progress=False,
                            special_tokens=BPE_SPECIALS + ["<mask>"])
    bpe.save_model(folder)
    vocab_path = os.path.join(folder, "vocab.json")
    with open(vocab_path, encoding="utf-8") as f:
        vocab = json.load(f)
    used = set(vocab.values())
    for i in range(size):  # fill the holes tokenizers leaves and the rest, so ids run 0..size-1
        if i not in used:
            vocab[f"<unused{i}>"] = i
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)


# Sentences in the scripts XLM-R is used for: Latin with accents, CJK, Cyrillic, Arabic, Devanagari,
# Greek, Thai, emoji. A SentencePiece model trained on them splits real words, as XLM-R's does.
MULTILINGUAL = [
    "The capital of France is Paris.", "It is a sunny day, let's go for a walk in the park!",
    "Natural language processing is an important field of artificial intelligence.",
    "Die Hauptstadt von Deutschland ist Berlin.", "Ça va très bien, merci ! Où est la gare ?",
    "El niño comió una manzana en la mañana.", "Zürich, Kraków, Tromsø, İstanbul, Şanlıurfa.",
    "中国的首都是北京。", "今天天气很好，我们去公园散步吧！", "自然语言处理是人工智能的一个重要方向。",
    "東京は日本の首都です。", "서울은 한국의 수도입니다.",
    "Столица России — Москва.", "Привет, как дела? Всё хорошо.",
    "عاصمة مصر هي القاهرة.", "اللغة العربية جميلة جدا.",
    "भारत की राजधानी नई दिल्ली है।", "मैं आज बाज़ार जा रहा हूँ।",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.", "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
    "I love this 😊 and that 🎉 too!", "Numbers: 3.14, 2,718 and 1/2.",
]


def write_sentencepiece(folder: str, size: int):
    """sentencepiece.bpe.model: a unigram model (as XLM-R's) with ``size - 2`` pieces or fewer, so that
    with fairseq's <pad> and <mask> every id fits the model's ``size`` rows."""
    import io

    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(MULTILINGUAL * 5), model_writer=model, vocab_size=size - 2, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, num_threads=1, minloglevel=2,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,  # XLM-R's spm: <unk> 0, <s> 1, </s> 2, no pad piece
    )
    with open(os.path.join(folder, "sentencepiece.bpe.model"), "wb") as f:
        f.write(model.getvalue())


def build_sentence_transformer(out_dir: str, family: str, config: dict, *, modes=("mean",), dense=(), normalize=False,
                               prompts=None, default_prompt_name=None, include_prompt=True, max_seq_length=None,
                               do_lower_case=False, seed: int = 0, fmt: str = "safetensors"):
    """A sentence-transformers model saved to ``out_dir`` by ``SentenceTransformer.save``, returned: a trained-looking
    ``family`` body (``config``, the family's synthetic tokenizer), Pooling with ``modes``, one Dense per
    ``(out_features, activation class name)`` of ``dense`` with trained-looking weights, then Normalize if asked."""
    import tempfile

    import torch
    from sentence_transformers import SentenceTransformer, models

    hf_class = {"bert": "BertModel", "roberta": "RobertaModel", "xlm-roberta": "XLMRobertaModel"}[family]
    vocab = {"bert": "wordpiece", "roberta": "bpe", "xlm-roberta": "sentencepiece"}[family]
    with tempfile.TemporaryDirectory() as body:
        build_checkpoint(body, hf_class, config, seed=seed, vocab=vocab)
        transformer = models.Transformer(body, max_seq_length=max_seq_length, do_lower_case=do_lower_case)
        width = transformer.get_word_embedding_dimension()
        keys = {"cls": "cls_token", "max": "max_tokens", "mean": "mean_tokens", "weightedmean": "weightedmean_tokens",
                "mean_sqrt_len_tokens": "mean_sqrt_len_tokens", "lasttoken": "lasttoken"}
        flags = {f"pooling_mode_{k}": m in modes for m, k in keys.items()}
        pooling = models.Pooling(width, include_prompt=include_prompt, **flags)
        modules = [transformer, pooling]
        width = pooling.get_sentence_embedding_dimension()
        gen = torch.Generator().manual_seed(seed + 7)
        for out, act in dense:
            layer = models.Dense(width, out, activation_function=getattr(torch.nn, act)())
            with torch.no_grad():
                layer.linear.weight.copy_(torch.randn(layer.linear.weight.shape, generator=gen) / width ** 0.5)
                layer.linear.bias.copy_(BIAS_STD * torch.randn(layer.linear.bias.shape, generator=gen))
            modules.append(layer)
            width = out
        if normalize:
            modules.append(models.Normalize())
        model = SentenceTransformer(modules=modules, prompts=prompts, default_prompt_name=default_prompt_name,
                                    device="cpu")
        model.save(out_dir, safe_serialization=(fmt == "safetensors"))
    return model.eval()
