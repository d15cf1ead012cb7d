"""Decide what a checkpoint is and plan every output tensor before any data is read.

``make_plan`` recognises the family and head, checks every tensor's shape against config.json,
and returns one ``Entry`` per PaddleNLP tensor. A source tensor that no entry uses and that is
not on ``mapping.DROPPED`` is an error, as is an entry whose source is missing.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from . import mapping
from .errors import ConversionError
from .mapping import T

OLD_LAYER_NORM_NAMES = {"LayerNorm.gamma": "LayerNorm.weight", "LayerNorm.beta": "LayerNorm.bias"}
SUPPORTED_ACTIVATIONS = {"gelu", "relu", "tanh"}  # same function under the same name in both frameworks


@dataclass
class Entry:
    dst: str  # PaddleNLP name
    srcs: tuple  # source names that must all hold this value (first is read); empty when synthesised
    transpose: bool
    shape: tuple  # PaddleNLP layout
    synthesized: str = ""  # why the value is not from the checkpoint ("" when it is)


@dataclass
class Plan:
    family: mapping.Family
    head: str  # key of family.heads
    entries: list
    dims: dict
    notes: list = field(default_factory=list)
    dropped: list = field(default_factory=list)  # source names not converted, each on purpose
    dropped_heads: list = field(default_factory=list)  # "cls.seq_relationship.* (NSP head, not part of …)"

    @property
    def paddle_class(self) -> str:
        return self.family.paddle_class(self.head)


def make_plan(config: dict, names_shapes: dict, tokenizer_kind: str | None, family: str | None = None, config_path="config.json",
              head: str | None = None) -> Plan:
    """``names_shapes``: source tensor name -> shape. ``tokenizer_kind``: the source's (``tokenizer_kind.tokenizer_kind``).
    ``head``: convert to this head instead of the one config.json names (``BertForPreTraining``,
    ``BertForPretraining`` or ``ForPreTraining``), when the tensors hold it."""
    notes = []
    canonical = _canonical_names(names_shapes)
    fam, head = _family_and_head(config, canonical, names_shapes, tokenizer_kind, family, notes, config_path, head)
    src_prefix = _source_prefix(canonical)
    dims = _dims(config, canonical, names_shapes, src_prefix, config_path)
    _check_activation(config, config_path)

    dst_prefix = "" if head == "Model" else fam.base_prefix + "."
    rows, pooler_rows = table_rows(fam, head, dims["layers"], src_prefix, dst_prefix)

    entries = []
    for srcs, dst, layout, hf_shape in rows:
        present = tuple(canonical[s] for s in srcs if s in canonical)
        if not present:
            raise ConversionError(f"tensor {srcs[0]} is missing from the checkpoint ({fam.paddle_class(head)} needs it)")
        entries.append(_entry(dst, present, layout, hf_shape, dims, names_shapes, config_path))

    # Every output carries a pooler, so that AutoModel (a bare model with a pooler) never starts
    # from random weights: the checkpoint's own, or zeros when it has none (pooled output = tanh(0) = 0).
    if all(h in canonical for (h,), *_ in pooler_rows):
        for (h,), p, lay, shp in pooler_rows:
            entries.append(_entry(p, (canonical[h],), lay, shp, dims, names_shapes, config_path))
    elif any(h in canonical for (h,), *_ in pooler_rows):
        missing = next(h for (h,), *_ in pooler_rows if h not in canonical)
        raise ConversionError(f"tensor {missing} is missing from the checkpoint (it has the rest of the pooler)")
    else:
        pooler_dst = dst_prefix + "pooler.dense."
        reason = "checkpoint has no pooler; zeros so no loader initialises it randomly"
        H = dims["H"]
        entries.append(Entry(pooler_dst + "weight", (), False, (H, H), reason))
        entries.append(Entry(pooler_dst + "bias", (), False, (H,), reason))
        notes.append("pooler: not in the checkpoint; written as zeros (pooled output is 0, as no weights exist)")

    used = {s for e in entries for s in e.srcs}
    other_heads = _other_head_tensors(fam, head, src_prefix)
    dropped, groups = [], {}
    for canon, name in canonical.items():
        if name in used:
            continue
        if any(fnmatch.fnmatchcase(name, pat) for pat in mapping.DROPPED):
            dropped.append(name)
        elif canon in other_heads:
            dropped.append(name)
            prefix, label = other_heads[canon]
            groups.setdefault(prefix, label)
        else:
            raise ConversionError(
                f"tensor {name} is not used by {fam.paddle_class(head)} and is not on the list of tensors dropped on purpose"
            )
    dropped_heads = [f"{p}* ({label}, not part of {fam.paddle_class(head)})" for p, label in groups.items()]
    return Plan(fam, head, entries, dims, notes, dropped, dropped_heads)


def _other_head_tensors(fam, head, src_prefix) -> dict:
    """Canonical source name -> (its prefix, label) for every tensor of the family's other heads."""
    found = {}
    for other, spec in fam.heads.items():
        if other == head:
            continue
        for srcs, *_ in spec.rows:
            for name in _sources(srcs, src_prefix):
                for prefix, label in mapping.HEAD_LABELS.items():
                    if name.startswith(prefix):
                        found[name] = (prefix, label)
    return found


def table_rows(fam, head, layers, src_prefix, dst_prefix) -> tuple:
    """The family's table for one head, expanded: ``(rows, pooler_rows)``, each row
    ``(HF names, PaddleNLP name, layout, HF shape)`` with concrete names (layer indices, prefixes).
    A head row naming a PaddleNLP tensor that an earlier row already fills adds its HF names to that
    row (XLM-RoBERTa's tied decoder: one PaddleNLP tensor, two HF names that must hold one value).
    Used in both directions: HF -> PaddleNLP here, PaddleNLP -> HF in ``export_hf``."""
    rows = [((src_prefix + h,), dst_prefix + p, lay, shp) for h, p, lay, shp in fam.embeddings]
    for i in range(layers):
        rows += [((src_prefix + h.format(i=i),), dst_prefix + p.format(i=i), lay, shp) for h, p, lay, shp in fam.encoder_layer]
    pooler_rows = [((src_prefix + h,), dst_prefix + p, lay, shp) for h, p, lay, shp in fam.pooler]
    index = {row[1]: n for n, row in enumerate(rows)}
    for srcs, p, lay, shp in fam.heads[head].rows:
        srcs = tuple(_sources(srcs, src_prefix))
        p = p.format(base=dst_prefix)
        if p in index:
            old_srcs, _, old_lay, old_shp = rows[index[p]]
            assert (old_lay, old_shp) == (lay, shp), f"table rows for {p} disagree"  # a table bug, not input
            rows[index[p]] = (old_srcs + tuple(s for s in srcs if s not in old_srcs), p, lay, shp)
            continue
        index[p] = len(rows)
        rows.append((srcs, p, lay, shp))
    return rows, pooler_rows


def _entry(dst, srcs, layout, hf_shape, dims, names_shapes, config_path):
    want = tuple(dims[d] if isinstance(d, str) else d for d in hf_shape)
    for s in srcs:
        got = tuple(names_shapes[s])
        if got != want:
            fixed = [d for d in hf_shape if not isinstance(d, str)]
            if fixed and len(got) == len(want) and any(g != w for g, w, d in zip(got, want, hf_shape) if not isinstance(d, str)):
                why = next((r for p, r in mapping.FIXED_SIZE_REASONS.items() if s.startswith(p)), "a fixed size")
                raise ConversionError(f"tensor {s} has shape {list(got)}, but the PaddleNLP class needs {list(want)}: {why}")
            raise ConversionError(
                f"tensor {s} has shape {list(got)}, but {config_path} implies {list(want)}"
            )
    transpose = layout == T
    return Entry(dst, srcs, transpose, want[::-1] if transpose else want)


def _canonical_names(names_shapes) -> dict:
    """Canonical HF name -> name in the checkpoint (old TF-converted files say LayerNorm.gamma/beta)."""
    out = {}
    for name in names_shapes:
        canon = name
        for old, new in OLD_LAYER_NORM_NAMES.items():
            if canon.endswith(old):
                canon = canon[: -len(old)] + new
        if canon in out:
            raise ConversionError(f"tensors {out[canon]} and {name} are the same weight under two names")
        out[canon] = name
    return out


def _family_and_head(config, canonical, names_shapes, tokenizer_kind, forced, notes, config_path, forced_head=None):
    archs = config.get("architectures") or []
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise ConversionError(f"{config_path}: architectures must be a list of class names")
    model_type = config.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        raise ConversionError(f"{config_path}: model_type must be a string, found {model_type!r}")
    arch = archs[0] if archs else None
    if arch in mapping.NO_PADDLE_CLASS and not forced_head:
        raise ConversionError(f"{config_path}: architectures {arch} cannot be converted: {mapping.NO_PADDLE_CLASS[arch]}")
    if forced and forced not in mapping.FAMILIES:
        raise ConversionError(f"family {forced!r} is not one of {sorted(mapping.FAMILIES)}")

    if model_type is not None and model_type not in mapping.FAMILIES and not forced:
        # e.g. camembert: a RoBERTa body, but a tokenizer id layout of its own that the XLM-R files would get wrong
        raise ConversionError(f"{config_path}: model_type {model_type!r} is not supported ({_families()}); "
                              "pass --family if the checkpoint is one of these")
    declared, declared_head = None, None  # what config.json says, when it says anything
    if arch is not None and arch not in mapping.NO_PADDLE_CLASS:
        declared, declared_head = _split_arch(arch, config_path, unknown_ok=bool(forced or forced_head))
    if declared is None and model_type in mapping.FAMILIES:
        declared = model_type

    if forced:
        family = forced
        if declared and forced != declared:
            notes.append(f"family: forced to {forced} (--family) although {config_path} says {declared}")
    elif declared is None:
        family = _family_from_evidence(canonical, names_shapes, tokenizer_kind, config, config_path, notes)
    elif declared == "roberta" and _is_bert_structured(config, tokenizer_kind):
        # CLUE's Chinese RoBERTa: labelled roberta, trained and published as BERT (positions
        # from 0, two token types, WordPiece vocab.txt). As RoBERTa, positions would start at
        # pad_token_id + 1 and every output would be wrong.
        family = "bert"
        notes.append(
            "family: config.json says roberta, but the checkpoint is BERT-structured "
            "(type_vocab_size 2, WordPiece vocab.txt, no merges.txt): converted as BERT, as its model card loads it"
        )
    else:
        family = declared
    fam = mapping.FAMILIES[family]

    if forced_head:
        return fam, _head_name(forced_head, fam)
    # the head config.json names, when the decided family's table reads the same tensors for it
    if declared_head in fam.heads and fam.heads[declared_head].rows == mapping.FAMILIES[declared].heads[declared_head].rows:
        return fam, declared_head
    head, others = _head_from_tensors(fam, canonical, names_shapes)
    if declared_head is not None and head != declared_head:  # a head of another family on a BERT-structured body
        raise ConversionError(
            f"{config_path}: {arch} on a {family}-structured checkpoint: its head tensors fit no PaddleNLP "
            f"{fam.class_prefix} class (pass --head with one of {', '.join(s.paddle_class for s in fam.heads.values())})"
        )
    why = "config.json names no architectures" if declared_head is None else f"{arch} read as {family}"
    also = f"; the tensors also fit {', '.join(fam.paddle_class(h) for h in others)} (--head picks one)" if others else ""
    notes.append(f"head: {why}; {fam.paddle_class(head)} chosen from the tensors present{also}")
    return fam, head


def _head_name(name, fam) -> str:
    """``ForPreTraining``, ``BertForPreTraining`` or PaddleNLP's ``BertForPretraining`` -> head key."""
    for head, spec in fam.heads.items():
        if name in (head, spec.paddle_class, spec.paddle_class.replace("Pretraining", "PreTraining")) or \
                name.endswith(head) and name[: -len(head)] == fam.class_prefix:
            return head
    classes = ", ".join(s.paddle_class for s in fam.heads.values())
    raise ConversionError(f"head {name!r} is not a PaddleNLP {fam.name} class ({classes})")


def _families() -> str:
    return ", ".join(mapping.FAMILIES)


def _split_arch(arch, config_path, unknown_ok=False):
    for fam in sorted(mapping.FAMILIES.values(), key=lambda f: -len(f.class_prefix)):  # XLMRoberta before Roberta
        if arch.startswith(fam.class_prefix):
            head = arch[len(fam.class_prefix):]
            if head in fam.heads:
                return fam.name, head
    if unknown_ok:  # --family / --head decide
        return None, None
    raise ConversionError(f"{config_path}: architectures {arch} is not a BERT, RoBERTa or XLM-RoBERTa class this tool converts"
                          " (--family and --head override)")


def _family_from_evidence(canonical, names_shapes, tokenizer_kind, config, config_path, notes) -> str:
    """The family of a checkpoint whose config.json names none (transformers 2.x wrote neither model_type nor
    architectures): every piece of evidence narrows the set of families; it must end with exactly one."""
    from .tokenizer_kind import FAMILY_OF_KIND

    roberta_like = {"roberta", "xlm-roberta"}
    evidence = []  # (families it allows, what it is)
    if tokenizer_kind in FAMILY_OF_KIND:
        evidence.append(({FAMILY_OF_KIND[tokenizer_kind]}, f"{tokenizer_kind} tokenizer files"))
    if any(n.startswith("bert.") or n.startswith("cls.") for n in canonical):
        evidence.append(({"bert"}, "bert./cls. tensor names"))
    if any(n.startswith("roberta.") or n.startswith("lm_head.") or n == "classifier.dense.weight" for n in canonical):
        evidence.append((roberta_like, "roberta./lm_head. tensor names"))
    types = [names_shapes[canonical[n]] for n in canonical if n.endswith("embeddings.token_type_embeddings.weight")]
    if types and len(types[0]) == 2:
        rows = types[0][0]
        evidence.append(({"bert"} if rows == 2 else roberta_like, f"{rows} token type row(s)"))
    families = set(mapping.FAMILIES)
    for allowed, _ in evidence:
        families &= allowed
    said = ", ".join(f"{what} ({'/'.join(sorted(allowed))})" for allowed, what in evidence) or "no tokenizer, no telling tensors"
    if len(families) != 1:
        problem = "conflicting evidence" if not families else f"cannot tell {' from '.join(sorted(families))}"
        raise ConversionError(f"{config_path}: no model_type or architectures, and {problem}: {said}; "
                              "pass --family bert|roberta|xlm-roberta")
    family = families.pop()
    notes.append(f"family: {config_path} names none; {family} from {said}")
    return family


def _head_from_tensors(fam, canonical, names_shapes) -> tuple:
    """(head, other heads that fit) for a checkpoint whose config.json names no head: the heads of ``fam``
    whose every head tensor is present with a fitting shape; of those, the one that uses the most tensors (so
    nothing trained is dropped), then the one whose pooler matches (HF's token classification, QA and LM heads
    have none), then the table's order (sequence classification before multiple choice)."""
    src_prefix = _source_prefix(canonical)
    has_pooler = src_prefix + "pooler.dense.weight" in canonical
    fits = []
    for order, (head, spec) in enumerate(fam.heads.items()):
        used, ok = set(), True
        for srcs, _, _, shape in spec.rows:
            present = [n for n in _sources(srcs, src_prefix) if n in canonical]
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
    taken = {n for srcs, *_ in fam.heads[best[3]].rows for n in _sources(srcs, src_prefix)}
    unfit = sorted(n for n in canonical if n.startswith(tuple(mapping.HEAD_LABELS)) and n not in taken)
    if unfit:  # head tensors that no head takes as they are: never dropped unasked
        name = canonical[unfit[0]]
        raise ConversionError(f"tensor {name} (shape {list(names_shapes[name])}) fits no PaddleNLP {fam.class_prefix} head "
                              f"as it is ({', '.join(fam.paddle_class(h) for h in fam.heads if h != 'Model')}); "
                              "pass --head to convert a narrower class without it")
    others = [f[3] for f in fits[1:] if f[0] == best[0] and f[3] != "Model"]
    return best[3], others


def _sources(srcs, src_prefix) -> list:
    """A head row's HF names (one, or several tied ones), with the base model's prefix filled in."""
    return [s.format(base=src_prefix) for s in ((srcs,) if isinstance(srcs, str) else srcs)]


def _is_bert_structured(config, tokenizer_kind) -> bool:
    from .tokenizer_kind import WORDPIECE

    return config.get("type_vocab_size") == 2 and tokenizer_kind == WORDPIECE


def _source_prefix(canonical) -> str:
    suffix = "embeddings.word_embeddings.weight"
    found = [n[: -len(suffix)] for n in canonical if n.endswith(suffix)]
    if not found:
        raise ConversionError(f"tensor {suffix} is missing from the checkpoint: not a BERT/RoBERTa/XLM-RoBERTa model")
    if len(found) > 1 or found[0] not in ("", "bert.", "roberta."):
        raise ConversionError(f"tensor names {', '.join(f + suffix for f in found)}: cannot tell the base model's prefix")
    return found[0]


def _dims(config, canonical, names_shapes, src_prefix, config_path) -> dict:
    def need(key):
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConversionError(f"{config_path}: {key} must be a positive integer, found {value!r}")
        return value

    word = src_prefix + "embeddings.word_embeddings.weight"
    shape = tuple(names_shapes[canonical[word]])
    if len(shape) != 2:
        raise ConversionError(f"tensor {canonical[word]} has shape {list(shape)}, expected [vocab_size, hidden_size]")
    V, H = shape
    if config.get("vocab_size") != V:
        raise ConversionError(
            f"{config_path}: vocab_size {config.get('vocab_size')!r} does not match tensor {word} with {V} rows"
        )
    if config.get("hidden_size") != H:
        raise ConversionError(f"{config_path}: hidden_size {config.get('hidden_size')!r} does not match tensor {word} with {H} columns")
    heads = need("num_attention_heads")
    if H % heads:
        raise ConversionError(f"{config_path}: hidden_size {H} is not divisible by num_attention_heads {heads}")
    pet = config.get("position_embedding_type", "absolute")
    if pet != "absolute":
        raise ConversionError(f"{config_path}: position_embedding_type {pet!r}: PaddleNLP's classes have absolute positions only")
    return {
        "V": V,
        "H": H,
        "I": need("intermediate_size"),
        "P": need("max_position_embeddings"),
        "Y": need("type_vocab_size"),
        "L": num_labels(config),
        "layers": need("num_hidden_layers"),
    }


def num_labels(config) -> int:
    id2label = config.get("id2label")
    if isinstance(id2label, dict) and id2label:
        return len(id2label)
    n = config.get("num_labels", 2)
    return n if isinstance(n, int) and n > 0 else 2


def _check_activation(config, config_path):
    act = config.get("hidden_act", "gelu")
    if not isinstance(act, str) or act not in SUPPORTED_ACTIVATIONS:
        raise ConversionError(
            f"{config_path}: hidden_act {act!r} has no same-named function in paddle (supported: {', '.join(sorted(SUPPORTED_ACTIVATIONS))})"
        )
