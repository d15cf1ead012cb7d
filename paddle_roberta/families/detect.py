"""Which family and head a checkpoint is, from what its files say: config.json, the tokenizer kind, the tensors.

Both directions ask here: ``family_and_head`` for a Hugging Face checkpoint (convert), ``paddle_family_and_head``
for a PaddleNLP directory (export to Hugging Face or Paddle Inference).
"""

from __future__ import annotations

from ..errors import ConversionError
from ..tokenizer.kind import KINDS, MERGES_TXT, VOCAB_TXT, WORDPIECE
from . import tables


def paddle_family_and_head(config, config_path) -> tuple:
    """(Family, head key) of a PaddleNLP config.json: its model_type and the class its architectures name."""
    family = tables.FAMILIES.get(config.get("model_type"))
    archs = config.get("architectures")
    if family is None or not isinstance(archs, list) or not archs:
        raise ConversionError(f"{config_path}: not a PaddleNLP BERT/RoBERTa config (model_type "
                              f"{config.get('model_type')!r}, architectures {archs!r})")
    for head, spec in family.heads.items():
        if spec.paddle_class == archs[0]:
            return family, head
    raise ConversionError(f"{config_path}: {archs[0]} has no transformers counterpart this tool exports "
                          f"({', '.join(s.paddle_class for s in family.heads.values())})")


def written_by_transformers(config) -> bool:
    """A config.json transformers wrote (not PaddleNLP's save_pretrained, not this tool's conversion)."""
    return "transformers_version" in config and not ({"paddlenlp_version", "paddle_roberta"} & set(config))


def hf_names(srcs, src_prefix) -> list:
    """A head row's HF names (one, or several tied ones), with the base model's prefix filled in."""
    return [s.format(base=src_prefix) for s in ((srcs,) if isinstance(srcs, str) else srcs)]


def family_and_head(config, canonical, names_shapes, tokenizer_kind, forced, notes, config_path, forced_head=None):
    """(Family, head key) of a Hugging Face checkpoint: from config.json's architectures and model_type, the
    tokenizer kind and the tensors; ``forced`` / ``forced_head`` are --family / --head. Notes say what was decided."""
    archs = config.get("architectures") or []
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise ConversionError(f"{config_path}: architectures must be a list of class names")
    model_type = config.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        raise ConversionError(f"{config_path}: model_type must be a string, found {model_type!r}")
    arch = archs[0] if archs else None
    if model_type in tables.ALIASES:
        model_type, prefix = tables.ALIASES[model_type]
        notes.append(f"family: model_type {config['model_type']} is a {model_type} body under another name "
                     f"(the same modules and tensors): converted as {model_type}")
        if arch is not None and arch.startswith(prefix):
            arch = tables.FAMILIES[model_type].class_prefix + arch[len(prefix):]
    if arch in tables.NO_PADDLE_CLASS and not forced_head:
        raise ConversionError(f"{config_path}: architectures {arch} cannot be converted: "
                              f"{tables.NO_PADDLE_CLASS[arch]}")
    if forced and forced not in tables.FAMILIES:
        raise ConversionError(f"family {forced!r} is not one of {sorted(tables.FAMILIES)}")

    if model_type is not None and model_type not in tables.FAMILIES and not forced:
        # e.g. camembert: a RoBERTa body, but a tokenizer id layout of its own that the XLM-R files would get wrong
        raise ConversionError(f"{config_path}: model_type {model_type!r} is not supported ({_families()}); "
                              "pass --family if the checkpoint is one of these")
    declared, declared_head = None, None  # what config.json says, when it says anything
    if arch is not None and arch not in tables.NO_PADDLE_CLASS:
        declared, declared_head = _split_arch(arch, config_path, unknown_ok=bool(forced or forced_head))
    if declared is None and model_type in tables.FAMILIES:
        declared = model_type

    if forced:
        family = forced
        if declared and forced != declared:
            notes.append(f"family: forced to {forced} (--family) although {config_path} says {declared}")
    elif declared is None:
        family = _family_from_evidence(canonical, names_shapes, tokenizer_kind, config, config_path, notes)
    elif declared == "roberta" and _is_bert_structured(config, tokenizer_kind):
        # CLUE's Chinese RoBERTa: labelled roberta, trained and published as BERT (positions
        # from 0, two token types, a WordPiece vocabulary). As RoBERTa, positions would start at
        # pad_token_id + 1 and every output would be wrong.
        family = "bert"
        notes.append(
            "family: config.json says roberta, but the checkpoint is BERT-structured "
            f"(type_vocab_size 2, WordPiece {VOCAB_TXT}, no {MERGES_TXT}): converted as BERT, as its model "
            f"card loads it"
        )
    else:
        family = declared
    fam = tables.FAMILIES[family]

    if forced_head:
        return fam, _head_name(forced_head, fam)
    # the head config.json names, when the decided family's table reads the same tensors for it
    if (declared_head in fam.heads
            and fam.heads[declared_head].rows == tables.FAMILIES[declared].heads[declared_head].rows):
        return fam, declared_head
    head, others = head_from_tensors(fam, canonical, names_shapes)
    if declared_head is not None and head != declared_head:  # a head of another family on a BERT-structured body
        raise ConversionError(
            f"{config_path}: {arch} on a {family}-structured checkpoint: its head tensors fit no PaddleNLP "
            f"{fam.class_prefix} class (pass --head with one of "
            f"{', '.join(s.paddle_class for s in fam.heads.values())})"
        )
    why = "config.json names no architectures" if declared_head is None else f"{arch} read as {family}"
    also = (f"; the tensors also fit {', '.join(fam.paddle_class(h) for h in others)} (--head picks one)"
            if others else "")
    notes.append(f"head: {why}; {fam.paddle_class(head)} chosen from the tensors present{also}")
    return fam, head


def _head_name(name, fam) -> str:
    """``ForPreTraining``, ``BertForPreTraining`` or PaddleNLP's ``BertForPretraining`` -> head key."""
    found = tables.find_class(name, fam)
    if found is None:
        classes = ", ".join(s.paddle_class for s in fam.heads.values())
        raise ConversionError(f"head {name!r} is not a PaddleNLP {fam.name} class ({classes})")
    return found[1]


def _families() -> str:
    return ", ".join(tables.FAMILIES)


def _split_arch(arch, config_path, unknown_ok=False):
    found = tables.find_class(arch)
    if found is not None:
        return found[0].name, found[1]
    if unknown_ok:  # --family / --head decide
        return None, None
    raise ConversionError(f"{config_path}: architectures {arch} is not a class of {_families()} that this tool converts"
                          " (--family and --head override)")


def _family_from_evidence(canonical, names_shapes, tokenizer_kind, config, config_path, notes) -> str:
    """The family of a checkpoint whose config.json names none (transformers 2.x wrote neither model_type nor
    architectures): every piece of evidence narrows the set of families; it must end with exactly one."""
    roberta_like = {f.name for f in tables.FAMILIES.values() if f.positions_after_pad}
    evidence = []  # (families it allows, what it is)
    if tokenizer_kind in KINDS:
        evidence.append(({KINDS[tokenizer_kind].family}, f"{tokenizer_kind} tokenizer files"))
    if any(n.startswith("bert.") or n.startswith("cls.") for n in canonical):
        evidence.append(({"bert"}, "bert./cls. tensor names"))
    if any(n.startswith("roberta.") or n.startswith("lm_head.") or n == "classifier.dense.weight" for n in canonical):
        evidence.append((roberta_like, "roberta./lm_head. tensor names"))
    types = [names_shapes[canonical[n]] for n in canonical if n.endswith("embeddings.token_type_embeddings.weight")]
    if types and len(types[0]) == 2:
        rows = types[0][0]
        evidence.append(({"bert"} if rows == 2 else roberta_like, f"{rows} token type row(s)"))
    families = set(tables.FAMILIES)
    for allowed, _ in evidence:
        families &= allowed
    said = ", ".join(f"{what} ({'/'.join(sorted(allowed))})" for allowed,
                     what in evidence) or "no tokenizer, no telling tensors"
    if len(families) != 1:
        problem = "conflicting evidence" if not families else f"cannot tell {' from '.join(sorted(families))}"
        raise ConversionError(f"{config_path}: no model_type or architectures, and {problem}: {said}; "
                              "pass --family bert|roberta|xlm-roberta")
    family = families.pop()
    notes.append(f"family: {config_path} names none; {family} from {said}")
    return family


def head_from_tensors(fam, canonical, names_shapes) -> tuple:
    """(head, other heads that fit) for a checkpoint whose config.json names no head: the heads of ``fam``
    whose every head tensor is present with a fitting shape; of those, the one that uses the most tensors (so
    nothing trained is dropped), then the one whose pooler matches (HF's token classification, QA and LM heads
    have none), then the table's order (sequence classification before multiple choice)."""
    src_prefix = source_prefix(canonical)
    has_pooler = src_prefix + "pooler.dense.weight" in canonical
    fits = []
    for order, (head, spec) in enumerate(fam.heads.items()):
        used, ok = set(), True
        for srcs, _, _, shape in spec.rows:
            present = [n for n in hf_names(srcs, src_prefix) if n in canonical]
            if not present:
                ok = False
                break
            got = tuple(names_shapes[canonical[present[0]]])
            if len(got) != len(shape) or any(isinstance(d, int) and g != d for g, d in zip(got, shape)):
                ok = False
                break
            used.update(n for n in present if not n.startswith(src_prefix + "embeddings."))
        if ok:
            fits.append((-len(used), spec.hf_pooler != has_pooler, order, head))
    fits.sort()
    best = fits[0]
    taken = {n for srcs, *_ in fam.heads[best[3]].rows for n in hf_names(srcs, src_prefix)}
    unfit = sorted(n for n in canonical if n.startswith(tuple(tables.HEAD_LABELS)) and n not in taken)
    if unfit:  # head tensors that no head takes as they are: never dropped unasked
        name = canonical[unfit[0]]
        raise ConversionError(f"tensor {name} (shape {list(names_shapes[name])}) fits no PaddleNLP "
                              f"{fam.class_prefix} head "
                              f"as it is ({', '.join(fam.paddle_class(h) for h in fam.heads if h != 'Model')}); "
                              "pass --head to convert a narrower class without it")
    others = [f[3] for f in fits[1:] if f[0] == best[0] and f[3] != "Model"]
    return best[3], others


def _is_bert_structured(config, tokenizer_kind) -> bool:
    return config.get("type_vocab_size") == 2 and tokenizer_kind == WORDPIECE


def source_prefix(canonical) -> str:
    """The base model's prefix in a checkpoint's tensor names: "", "bert." or "roberta."."""
    suffix = "embeddings.word_embeddings.weight"
    found = [n[: -len(suffix)] for n in canonical if n.endswith(suffix)]
    if not found:
        raise ConversionError(f"tensor {suffix} is missing from the checkpoint: not a BERT/RoBERTa/XLM-RoBERTa model")
    if len(found) > 1 or found[0] not in ("", "bert.", "roberta."):
        raise ConversionError(f"tensor names {', '.join(f + suffix for f in found)}: cannot tell the base "
                              f"model's prefix")
    return found[0]


