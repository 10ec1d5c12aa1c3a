"""Model families: the registry, and each family's traits read from the family itself.

A family is one class (see `base.ModelFamily`) that carries its traits as class attributes:
`name`, `display` (how reports name it), `lr_factor` (its learning rate relative to GPT-2's at
the same size preset), `ddo_ratios` (its default DDO perturbations) and `loss_targets` (which
positions carry the loss, for the loss unit: "" for every predicted token, "masked " for a masked
LM). Adding a family is that class and one `register_family(...)` call; nothing else names it.
"""

from __future__ import annotations

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.proxy.families.bert import BertFamily
from autoscale_kit.proxy.families.gpt2 import GPT2Family

TRAITS = ("name", "display", "lr_factor", "ddo_ratios", "loss_targets")
METHODS = ("build", "train_batch", "eval_batch", "logits")
FAMILIES: dict[str, type] = {}


def register_family(family: type) -> type:
    """Add a family class to the registry (its name must be new and its traits complete); returns it."""
    missing = [t for t in (*TRAITS, *METHODS) if not hasattr(family, t)]
    if missing:
        raise UserError(f"a model family needs {', '.join(missing)}; {getattr(family, '__name__', family)!r} lacks them")
    if not isinstance(family.name, str) or not family.name:
        raise UserError(f"a model family's name must be a non-empty string, got {family.name!r}")
    if family.name in FAMILIES:
        raise UserError(f"a model family named {family.name!r} is registered already")
    if not (isinstance(family.lr_factor, (int, float)) and family.lr_factor > 0):
        raise UserError(f"family {family.name!r}: lr_factor must be a positive number, got {family.lr_factor!r}")
    FAMILIES[family.name] = family
    return family


def family_class(name: str) -> type:
    """The registered family `name` (its class: traits without a vocabulary)."""
    if not isinstance(name, str) or name not in FAMILIES:
        raise UserError(f"unknown model family {name!r}; choose one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def get_family(name: str, vocab_size: int | None = None, eos_id: int | None = None):
    """The family `name` bound to a tokenizer's vocabulary (None: unbound, `logits` only)."""
    return family_class(name)(vocab_size, eos_id)


def loss_unit(tokenizer: str | None = "bytes", family: str = "gpt2") -> str:
    """The unit of a validation loss: per byte with the byte tokenizer, else per token; a family
    whose loss is on some positions only says which ("nats/masked byte")."""
    unit = fmt.BYTE_UNIT if tokenizer in (None, "bytes") else fmt.TOKEN_UNIT
    return unit.replace("/", "/" + family_class(family).loss_targets)


register_family(GPT2Family)
register_family(BertFamily)
