"""One family's PaddleNLP model as another family's class of the same head, every weight mapped through the two
tables (transformers' names join them): how the inference export serves a family whose PaddleNLP code does not
trace.

PaddleNLP's xlm_roberta module code does not convert to a static graph in paddle 3.3.1 (dy2static deadlocks on
XLMRobertaSelfAttention, and its reshapes read static shapes); XLM-RoBERTa is RoBERTa's architecture, so it is served
through PaddleNLP's Roberta class of the same head and the result verified like any other export.
"""

from __future__ import annotations

from ..errors import ConversionError
from .plan import table_rows
from .tables import FAMILIES

SERVED_AS = {"xlm-roberta": "roberta"}  # family -> the family whose PaddleNLP classes trace it


def served_family(fam):
    return FAMILIES[SERVED_AS.get(fam.name, fam.name)]


def as_family(model, fam, served_fam, head, config):
    """``model`` (a PaddleNLP ``fam`` model) as the ``served_fam`` class of the same head, every weight mapped; a
    ConversionError naming the first weight of the served class that nothing maps to."""
    import paddlenlp.transformers as pt

    layers = config["num_hidden_layers"]
    state = dict(model.state_dict())
    rows, pooler = table_rows(fam, head, layers, fam.prefix(head), fam.prefix(head))
    by_hf = {hf: state[row.paddle] for row in rows + pooler if row.paddle in state for hf in row.hf}
    rows, pooler = table_rows(served_fam, head, layers, fam.prefix(head), served_fam.prefix(head))
    served_config = dict(config, model_type=served_fam.name, architectures=[served_fam.heads[head].paddle_class])
    cls = getattr(pt, served_fam.heads[head].paddle_class)
    served = cls(cls.config_class(**{k: v for k, v in served_config.items() if k not in ("paddle_roberta", "dtype")}))
    wanted = served.state_dict()
    values = {}
    for row in rows + pooler:
        source = next((by_hf[h] for h in row.hf if h in by_hf), None)
        if row.paddle in wanted and source is not None:
            values[row.paddle] = source
    missing = sorted(set(wanted) - set(values))
    if missing:
        raise ConversionError(f"{served_fam.heads[head].paddle_class}: no {fam.name} weight maps to {missing[0]}")
    served.set_state_dict(values)
    served.eval()
    return served
