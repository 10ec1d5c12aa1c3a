"""DDO's surrogate forms behind one protocol (`base.SurrogateForm`), and their registry.

`separable` is the paper's (one law per training domain); `transfer` sees substitute domains (one
law per validation domain in the effective data it sees). Adding a form is one class implementing
the protocol and one `register_form(...)` call; `fit_ddo`, the bootstrap, studies and the CLI
find it by name.
"""

from __future__ import annotations

from autoscale_kit.core.errors import UserError
from autoscale_kit.fit.forms.base import SurrogateForm, bootstrap_draws, check_form
from autoscale_kit.fit.forms.separable import SeparableForm
from autoscale_kit.fit.forms.transfer import TransferForm

FALLBACK = "separable"     # the form used when the runs do not identify the one asked for
SURROGATE_FORMS: dict[str, SurrogateForm] = {}


def register_form(form: SurrogateForm) -> SurrogateForm:
    """Add a form (an instance) to the registry (its name must be new); returns it."""
    check_form(form)
    if form.name in SURROGATE_FORMS:
        raise UserError(f"a surrogate form named {form.name!r} is registered already")
    SURROGATE_FORMS[form.name] = form
    return form


def get_form(name) -> SurrogateForm:
    """The registered form `name`."""
    if not isinstance(name, str) or name not in SURROGATE_FORMS:
        raise UserError(f"unknown surrogate {name!r}; use one of {', '.join(SURROGATE_FORMS)}")
    return SURROGATE_FORMS[name]


def interval_draws(name: str, draws: int) -> int:
    """The bootstrap draws form `name` gets where the cheapest form gets `draws`."""
    return bootstrap_draws(get_form(name), draws)


register_form(SeparableForm())
register_form(TransferForm())
