"""The plan: every output tensor, where it comes from and its shape, decided before any data is read.

One plan, read both ways from the same table rows (``tables.Row``):

- ``make_plan`` (convert, Hugging Face -> PaddleNLP) recognises the family and head (``detect``), checks every
  tensor's shape against config.json and returns one ``Entry`` per PaddleNLP tensor;
- ``export_plan`` (PaddleNLP -> Hugging Face) reads the rows right to left: one ``Entry`` per transformers tensor,
  with the same shape checks.

A source tensor that no entry uses and that is not on ``tables.DROPPED`` (or a head the other side's class does not
have, named in the plan) is an error, as is an entry whose source is missing. ``files.stream`` writes the entries.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from ..errors import ConversionError
from . import tables
from .detect import family_and_head, head_from_tensors, hf_names, paddle_family_and_head, source_prefix
from .tables import T

OLD_LAYER_NORM_NAMES = {"LayerNorm.gamma": "LayerNorm.weight", "LayerNorm.beta": "LayerNorm.bias"}
SUPPORTED_ACTIVATIONS = {"gelu", "relu", "tanh"}  # same function under the same name in both frameworks


@dataclass
class Entry:
    dst: str  # name on the side written
    srcs: tuple  # names on the side read that must all hold this value (first is read); empty when synthesised
    transpose: bool
    shape: tuple  # in the written side's layout
    synthesized: str = ""  # why the value is not from the checkpoint ("" when it is)
    tied_by: str = "PaddleNLP"  # whose class ties the sources into one tensor (named when they differ)


@dataclass
class Plan:
    family: tables.Family
    head: str  # key of family.heads
    entries: list
    dims: dict
    to: str = "paddle"  # the side written: "paddle" (convert) or "hf" (export)
    notes: list = field(default_factory=list)
    dropped: list = field(default_factory=list)  # source names not converted, each on purpose
    dropped_heads: list = field(default_factory=list)  # "cls.seq_relationship.* (NSP head, not part of …)"

    @property
    def paddle_class(self) -> str:
        return self.family.paddle_class(self.head)

    @property
    def hf_class(self) -> str:
        return self.family.hf_class(self.head)


def make_plan(config: dict, names_shapes: dict, tokenizer_kind: str | None, family: str | None = None,
              config_path="config.json",
              head: str | None = None) -> Plan:
    """``names_shapes``: source tensor name -> shape. ``tokenizer_kind``: the source's
    (``tokenizer.kind.tokenizer_kind``).
    ``head``: convert to this head instead of the one config.json names (``BertForPreTraining``,
    ``BertForPretraining`` or ``ForPreTraining``), when the tensors hold it."""
    notes = []
    canonical = _canonical_names(names_shapes)
    fam, head = family_and_head(config, canonical, names_shapes, tokenizer_kind, family, notes, config_path, head)
    src_prefix = source_prefix(canonical)
    dims = _dims(config, canonical, names_shapes, src_prefix, config_path)
    _check_activation(config, config_path)

    dst_prefix = fam.prefix(head)
    rows, pooler_rows = table_rows(fam, head, dims["layers"], src_prefix, dst_prefix)

    entries = []
    for row in rows:
        present = tuple(canonical[s] for s in row.hf if s in canonical)
        if not present:
            raise ConversionError(f"tensor {row.hf[0]} is missing from the checkpoint "
                                  f"({fam.paddle_class(head)} needs it)"
                                  f"{_held_head(fam, head, canonical, names_shapes)}")
        entries.append(_entry(row.paddle, present, row, dims, names_shapes, config_path))

    # Every output carries a pooler, so that AutoModel (a bare model with a pooler) never starts
    # from random weights: the checkpoint's own, or zeros when it has none (pooled output = tanh(0) = 0).
    if all(row.hf[0] in canonical for row in pooler_rows):
        for row in pooler_rows:
            entries.append(_entry(row.paddle, (canonical[row.hf[0]],), row, dims, names_shapes, config_path))
    elif any(row.hf[0] in canonical for row in pooler_rows):
        missing = next(row.hf[0] for row in pooler_rows if row.hf[0] not in canonical)
        raise ConversionError(f"tensor {missing} is missing from the checkpoint (it has the rest of the pooler)")
    else:
        reason = "checkpoint has no pooler; zeros so no loader initialises it randomly"
        for row in pooler_rows:
            entries.append(Entry(row.paddle, (), False,
                                 _shape(row, dims)[::-1] if row.layout == T else _shape(row, dims), reason))
        notes.append("pooler: not in the checkpoint; written as zeros (pooled output is 0, as no weights exist)")

    used = {s for e in entries for s in e.srcs}
    other_heads = _other_head_tensors(fam, head, src_prefix)
    dropped, groups = [], {}
    for canon, name in canonical.items():
        if name in used:
            continue
        if any(fnmatch.fnmatchcase(name, pat) for pat in tables.DROPPED):
            dropped.append(name)
        elif canon in other_heads:
            dropped.append(name)
            prefix, label = other_heads[canon]
            groups.setdefault(prefix, label)
        else:
            raise ConversionError(
                f"tensor {name} is not used by {fam.paddle_class(head)} and is not on the list of tensors "
                f"dropped on purpose"
            )
    dropped_heads = [f"{p}* ({label}, not part of {fam.paddle_class(head)})" for p, label in groups.items()]
    return Plan(fam, head, entries, dims, to="paddle", notes=notes, dropped=dropped, dropped_heads=dropped_heads)


def export_plan(config: dict, names_shapes: dict, config_path: str, where: str) -> Plan:
    """The plan read right to left, for a PaddleNLP directory (config.json at ``config_path``, tensors
    ``names_shapes`` read from ``where``): one entry per transformers tensor of the class config.json names. A
    transformers tensor that PaddleNLP holds twice (the MLM bias; a decoder tied to the word embeddings) lists
    every PaddleNLP copy as a source, and the copies must be equal. PaddleNLP's pooler is dropped on purpose
    where transformers' class has none; any other tensor without a place is an error."""
    fam, head = paddle_family_and_head(config, config_path)
    spec = fam.heads[head]
    prefix = fam.prefix(head)
    dims = _dims(config, {n: n for n in names_shapes}, names_shapes, prefix, config_path)
    _check_activation(config, config_path)
    rows, pooler_rows = table_rows(fam, head, dims["layers"], prefix, prefix)
    by_hf = {}
    for row in rows + (pooler_rows if spec.hf_pooler else []):
        by_hf.setdefault(row.hf[0], []).append(row)
    entries = []
    for hf_name, group in by_hf.items():
        assert len({(r.layout, r.shape) for r in group}) == 1, f"table rows for {hf_name} disagree"  # a table bug
        srcs = tuple(r.paddle for r in group)
        missing = [p for p in srcs if p not in names_shapes]
        if missing:
            raise ConversionError(f"{where}: tensor {missing[0]} is missing ({spec.paddle_class} has it)")
        entries.append(_entry(hf_name, srcs, group[0], dims, names_shapes, config_path, to_hf=True))

    used = {s for e in entries for s in e.srcs}
    unused_pooler = {row.paddle for row in pooler_rows} if not spec.hf_pooler else set()
    dropped, dropped_heads = [], []
    for name in names_shapes:
        if name in used:
            continue
        if any(fnmatch.fnmatchcase(name, pat) for pat in tables.DROPPED) or name in unused_pooler:
            dropped.append(name)
        else:
            raise ConversionError(f"{where}: tensor {name} has no place in transformers' {spec.hf_class}")
    if unused_pooler & set(dropped):
        dropped_heads.append(f"{prefix}pooler.* (PaddleNLP's pooler, not part of transformers' {spec.hf_class})")
    return Plan(fam, head, entries, dims, to="hf", dropped=dropped, dropped_heads=dropped_heads)


def _other_head_tensors(fam, head, src_prefix) -> dict:
    """Canonical source name -> (its prefix, label) for every tensor of the family's other heads."""
    found = {}
    for other, spec in fam.heads.items():
        if other == head:
            continue
        for row in spec.rows:
            for name in hf_names(row.hf, src_prefix):
                for prefix, label in tables.HEAD_LABELS.items():
                    if name.startswith(prefix):
                        found[name] = (prefix, label)
    return found


def table_rows(fam, head, layers, src_prefix, dst_prefix) -> tuple:
    """The family's table for one head, expanded: ``(rows, pooler_rows)``, each a ``tables.Row`` with concrete names
    (layer indices, prefixes) and ``hf`` a tuple of names. A head row naming a PaddleNLP tensor that an earlier row
    already fills adds its HF names to that row (XLM-RoBERTa's tied decoder: one PaddleNLP tensor, two HF names that
    must hold one value). ``src_prefix`` is the base prefix of the transformers names, ``dst_prefix`` of PaddleNLP's."""
    def expand(row, i=None):
        fill = (lambda n: n) if i is None else (lambda n: n.format(i=i))
        return row._replace(hf=(src_prefix + fill(row.hf),), paddle=dst_prefix + fill(row.paddle))

    rows = [expand(r) for r in fam.embeddings]
    for i in range(layers):
        rows += [expand(r, i) for r in fam.encoder_layer]
    pooler_rows = [expand(r) for r in fam.pooler]
    index = {row.paddle: n for n, row in enumerate(rows)}
    for row in fam.heads[head].rows:
        row = row._replace(hf=tuple(hf_names(row.hf, src_prefix)), paddle=row.paddle.format(base=dst_prefix))
        if row.paddle in index:
            old = rows[index[row.paddle]]
            # a table bug
            assert (old.layout, old.shape) == (row.layout, row.shape), f"table rows for {row.paddle} disagree"
            rows[index[row.paddle]] = old._replace(hf=old.hf + tuple(s for s in row.hf if s not in old.hf))
            continue
        index[row.paddle] = len(rows)
        rows.append(row)
    return rows, pooler_rows


def _shape(row, dims) -> tuple:
    """The row's shape in transformers' layout, in numbers."""
    return tuple(dims[d] if isinstance(d, str) else d for d in row.shape)


def _entry(dst, srcs, row, dims, names_shapes, config_path, to_hf=False):
    """An entry whose every source has the shape the row and config.json imply (transformers' layout when reading a
    Hugging Face checkpoint, PaddleNLP's when ``to_hf``)."""
    transpose = row.layout == T
    hf_shape = _shape(row, dims)
    want = hf_shape[::-1] if to_hf and transpose else hf_shape
    symbols = row.shape[::-1] if to_hf and transpose else row.shape
    side = "transformers" if to_hf else "PaddleNLP"
    for s in srcs:
        got = tuple(names_shapes[s])
        if got != want:
            fixed = [d for d in symbols if not isinstance(d, str)]
            fixed_differ = any(g != w for g, w, d in zip(got, want, symbols) if not isinstance(d, str))
            if fixed and len(got) == len(want) and fixed_differ:
                why = next((r for p, r in tables.FIXED_SIZE_REASONS.items() if s.startswith(p)), "a fixed size")
                raise ConversionError(f"tensor {s} has shape {list(got)}, but the {side} class needs "
                                      f"{list(want)}: {why}")
            raise ConversionError(f"tensor {s} has shape {list(got)}, but {config_path} implies {list(want)}")
    shape = hf_shape if to_hf else (hf_shape[::-1] if transpose else hf_shape)
    return Entry(dst, srcs, transpose, shape, tied_by="transformers" if to_hf else "PaddleNLP")


def _held_head(fam, head, canonical, names_shapes) -> str:
    """For a head the tensors do not hold (often one asked with --head): what they do hold, as advice."""
    try:
        held, _ = head_from_tensors(fam, canonical, names_shapes)
    except ConversionError:
        return ""
    if held == head:
        return ""
    return f"; its tensors hold {fam.paddle_class(held)}: pass --head {fam.paddle_class(held)}, or leave --head out"


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
        raise ConversionError(f"{config_path}: hidden_size {config.get('hidden_size')!r} does not match tensor {word} "
                              f"with {H} columns")
    heads = need("num_attention_heads")
    if H % heads:
        raise ConversionError(f"{config_path}: hidden_size {H} is not divisible by num_attention_heads {heads}")
    pet = config.get("position_embedding_type", "absolute")
    if pet != "absolute":
        raise ConversionError(f"{config_path}: position_embedding_type {pet!r}: PaddleNLP's classes have absolute "
                              f"positions only")
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
    """The classes of a classification head: id2label's size, else num_labels (PaddleNLP also says num_classes)."""
    id2label = config.get("id2label")
    if isinstance(id2label, dict) and id2label:
        return len(id2label)
    n = config.get("num_labels", config.get("num_classes", 2))
    return n if isinstance(n, int) and n > 0 else 2


def _check_activation(config, config_path):
    act = config.get("hidden_act", "gelu")
    if not isinstance(act, str) or act not in SUPPORTED_ACTIVATIONS:
        raise ConversionError(
            f"{config_path}: hidden_act {act!r} has no same-named function in paddle (supported: "
            f"{', '.join(sorted(SUPPORTED_ACTIVATIONS))})"
        )
