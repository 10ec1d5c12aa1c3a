"""What a study trains: `StudyConfig` and the named study sizes (`SCALES`).

Vocabulary, one meaning each: a *budget* (or total) is a number of training tokens; a *scale* is
the name of a study size preset (smoke, small, medium, gpu); a proxy *preset* is a model size
(`proxy.PRESETS`); a *round* is DDO at one budget (`pipeline.DDORound`).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Mapping

from autoscale_kit.core.errors import UserError
from autoscale_kit.core.objective import Objective
from autoscale_kit.fit.forms import SURROGATE_FORMS
from autoscale_kit.fit.plan import check_ratios
from autoscale_kit.core.mixture import parse_tokens
from autoscale_kit.proxy.config import PRESETS, ProxyConfig, for_family, preset
from autoscale_kit.proxy.families import family_class
from autoscale_kit.runs.store import CorpusRef, token_data

PREDICT_METHODS = ("auto", "continuous", "least-squares")   # the step rule has no target: not for a study


def check_objective(objective, domains) -> None:
    """Refuse an objective the study cannot compute, before anything is trained."""
    obj = Objective.parse(objective)
    if obj.domain is not None and domains is not None and obj.domain not in domains:
        raise UserError(f"objective {objective!r}: {obj.domain!r} is not one of the study's domains "
                        f"({', '.join(domains)})")


@dataclass(frozen=True)
class StudyConfig:
    """What a study trains: domains, DDO budgets, target, proxy model, seeds."""

    name: str = "study"
    corpus: str | None = None                        # None: the bundled corpus
    domains: tuple[str, ...] | None = None           # None: every domain of the corpus (but eval_domains)
    budgets: tuple[int, ...] = (250_000, 1_000_000)  # DDO totals, tokens
    target: int = 4_000_000                          # validation total, tokens
    ratios: tuple[float, ...] = (0.2, 3.0)           # DDO perturbations (the paper's 1/5 and 3)
    objective: str = "mean-loss"
    min_ratio: float = 0.2                           # lower bound per domain, × its base quantity
    proxy: ProxyConfig = ProxyConfig()
    ddo_seeds: tuple[int, ...] = (0,)                # DDO runs repeated per seed (replicates)
    seeds: tuple[int, ...] = (0,)                    # validation runs repeated per seed
    predict_method: str = "auto"
    workers: int = 1                                 # local processes (each with proxy.threads threads)
    surrogate: str = "separable"                     # DDO's surrogate: separable (the paper's) | transfer
    verify: int = 0                                  # candidates trained per budget to verify DDO (0: off)
    interval_draws: int = 200                        # bootstrap draws for the intervals on DDO's weights (0: none)
    level: float = 0.9                               # the intervals' nominal coverage
    eval_domains: tuple[str, ...] = ()               # evaluated (and in the objective), never trained on

    def __post_init__(self):
        def whole(name, values, low):
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int) or v < low:
                    what = "positive integers" if low == 1 else f"integers >= {low}"
                    raise UserError(f"StudyConfig.{name} must hold {what}, got {v!r}")

        if not isinstance(self.name, str) or not self.name.strip() or "/" in self.name:
            raise UserError(f"StudyConfig.name must be a non-empty name without '/', got {self.name!r}")
        if not isinstance(self.proxy, ProxyConfig):
            raise UserError(f"StudyConfig.proxy must be a ProxyConfig, got {type(self.proxy).__name__}")
        for name in ("budgets", "ratios", "ddo_seeds", "seeds"):
            if not isinstance(getattr(self, name), tuple):
                raise UserError(f"StudyConfig.{name} must be a tuple, got {getattr(self, name)!r}")
        whole("budgets", self.budgets, 1)
        whole("target", (self.target,), 1)
        whole("seeds", self.seeds, 0)
        whole("ddo_seeds", self.ddo_seeds, 0)
        whole("workers", (self.workers,), 1)
        for name in ("seeds", "ddo_seeds"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise UserError(f"StudyConfig.{name} names a seed twice: {list(values)}")
        if self.domains is not None:
            if not isinstance(self.domains, tuple) or any(not isinstance(d, str) or not d for d in self.domains):
                raise UserError(f"StudyConfig.domains must be a tuple of names, got {self.domains!r}")
            if len(set(self.domains)) != len(self.domains):
                twice = next(d for d in self.domains if self.domains.count(d) > 1)
                raise UserError(f"StudyConfig.domains names {twice!r} twice; name each domain once")
            if len(self.domains) < 2:
                raise UserError(f"a study needs at least two domains to mix, got {list(self.domains)}")
        if not isinstance(self.eval_domains, tuple) or any(not isinstance(d, str) or not d for d in self.eval_domains):
            raise UserError(f"StudyConfig.eval_domains must be a tuple of names, got {self.eval_domains!r}")
        if len(set(self.eval_domains)) != len(self.eval_domains):
            raise UserError(f"StudyConfig.eval_domains names a domain twice: {list(self.eval_domains)}")
        both = [d for d in self.eval_domains if d in (self.domains or ())]
        if both:
            raise UserError(f"{both[0]!r} is both a training domain and an evaluation-only domain; name it in one "
                            f"of domains and eval_domains")
        check_ratios(self.ratios)
        if isinstance(self.min_ratio, bool) or not isinstance(self.min_ratio, (int, float)) or \
                not 0 <= self.min_ratio < 1:
            raise UserError(f"StudyConfig.min_ratio must be a number in [0, 1) (the paper uses 0.2): the lower "
                            f"bounds of all domains must leave room below the total; got {self.min_ratio!r}")
        check_objective(self.objective, None if self.domains is None else self.domains + self.eval_domains)
        if self.surrogate not in SURROGATE_FORMS:
            raise UserError(f"StudyConfig.surrogate must be one of {', '.join(SURROGATE_FORMS)}, got {self.surrogate!r}")
        if isinstance(self.verify, bool) or not isinstance(self.verify, int) or self.verify < 0:
            raise UserError(f"StudyConfig.verify must be an integer >= 0 (candidate runs per budget), got {self.verify!r}")
        if isinstance(self.interval_draws, bool) or not isinstance(self.interval_draws, int) or \
                self.interval_draws < 0 or self.interval_draws == 1:
            raise UserError(f"StudyConfig.interval_draws must be 0 (no intervals) or an integer >= 2, "
                            f"got {self.interval_draws!r}")
        if isinstance(self.level, bool) or not isinstance(self.level, (int, float)) or not 0 < self.level < 1:
            raise UserError(f"StudyConfig.level must be a number in (0, 1), e.g. 0.9; got {self.level!r}")
        if self.predict_method not in PREDICT_METHODS:
            raise UserError(f"StudyConfig.predict_method must be one of {', '.join(PREDICT_METHODS)}, "
                            f"got {self.predict_method!r}")
        if len(self.budgets) < 2:
            raise UserError(f"a study needs DDO at two or more budgets, got {list(self.budgets)}")
        if sorted(self.budgets) != list(self.budgets) or len(set(self.budgets)) != len(self.budgets):
            raise UserError(f"budgets must be increasing and distinct, got {list(self.budgets)}")
        if any(s <= 0 for s in self.budgets) or self.target <= 0:
            raise UserError("budgets and target must be positive token counts")
        if not self.seeds or not self.ddo_seeds:
            raise UserError("give at least one seed")
        if self.workers < 1:
            raise UserError(f"workers must be >= 1, got {self.workers}")

    @property
    def corpus_ref(self) -> CorpusRef:
        """The domains runs load and evaluate: the training domains, then the evaluation-only ones."""
        if self.domains is not None and self.eval_domains:
            return CorpusRef(self.corpus, self.domains + self.eval_domains)
        return CorpusRef(self.corpus, self.domains)

    def training_domains(self) -> tuple[str, ...]:
        """The domains mixtures are made of: `domains`, or every loaded one but `eval_domains`."""
        loaded = self.corpus_ref.domain_names()
        missing = [d for d in self.eval_domains if d not in loaded]
        if missing:
            raise UserError(f"evaluation-only domain {missing[0]!r} is not in the corpus ({', '.join(loaded)})")
        return tuple(d for d in loaded if d not in self.eval_domains)

    def to_dict(self) -> dict:
        """Every field; `eval_domains` only when there are some, so that the records of studies made
        before the field existed (the shipped ones) still match."""
        d = asdict(self)
        d["proxy"] = self.proxy.to_dict()
        if not self.eval_domains:
            del d["eval_domains"]
        return d


# --- study files ---------------------------------------------------------------------------

SCALES_DIR = Path(__file__).resolve().parent / "scales"
FILE_KEYS = ("scale", "methods", "proxy")          # keys of a study file that are not StudyConfig fields
_TOKEN_LISTS = ("budgets",)
_TUPLES = ("domains", "eval_domains", "budgets", "ratios", "seeds", "ddo_seeds")


@dataclass(frozen=True)
class StudyFile:
    """A study as a file describes it: its config, the peer methods it validates besides the
    study's own, and where it came from (its text, recorded with the report)."""

    config: "StudyConfig"
    methods: tuple[str, ...] = ()
    path: str | None = None
    text: str = ""


def _near(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _tokens(value, where: str, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UserError(f"{where}: {field_name} must be a number of tokens such as 250000 or \"250k\", got {value!r}")
    try:
        return int(round(parse_tokens(value)))
    except UserError as exc:
        raise UserError(f"{where}: {field_name}: {exc}") from None


def _proxy_from(table, base: ProxyConfig, where: str) -> ProxyConfig:
    if not isinstance(table, dict):
        raise UserError(f"{where}: [proxy] must be a table of ProxyConfig fields (preset = \"mini\", lr = 2e-3, …)")
    table = dict(table)
    name = table.pop("preset", None)
    family = table.pop("family", None)
    if name is not None:
        if name not in PRESETS:
            raise UserError(f"{where}: proxy.preset {name!r} is not a preset{_near(str(name), PRESETS)}; choose one of "
                            f"{', '.join(PRESETS)}")
        config = preset(name, family=family or "gpt2")
    else:
        config = for_family(base, family) if family else base
    known = {f.name for f in fields(ProxyConfig)}
    for key in table:
        if key not in known:
            raise UserError(f"{where}: unknown proxy field {key!r}{_near(key, known)}; known: preset, "
                            f"{', '.join(sorted(known))}")
    try:
        return ProxyConfig.from_dict({**config.to_dict(), **table})
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None


def study_from_mapping(data, where: str = "study file", folder: Path | None = None,
                       scales: Mapping[str, "StudyConfig"] | None = None) -> StudyFile:
    """A StudyFile from the mapping a study file holds (see `read_study_file`); every bad field is
    one UserError naming the field and the fix. `folder`: where a relative corpus path starts."""
    if not isinstance(data, Mapping):
        raise UserError(f"{where}: a study file holds a table of study fields")
    data = dict(data)
    known = [f.name for f in fields(StudyConfig) if f.name != "proxy"] + list(FILE_KEYS)
    for key in data:
        if key not in known:
            raise UserError(f"{where}: unknown field {key!r}{_near(key, known)}; known: {', '.join(known)}")
    scales = SCALES if scales is None else scales
    scale = data.pop("scale", None)
    if scale is not None and scale not in scales:
        raise UserError(f"{where}: scale {scale!r} is not a named scale{_near(str(scale), scales)}; choose one of "
                        f"{', '.join(scales)}")
    base = scales[scale] if scale is not None else StudyConfig()
    methods = data.pop("methods", ())
    if isinstance(methods, str) or not isinstance(methods, (list, tuple)) or \
            any(not isinstance(m, str) for m in methods):
        raise UserError(f"{where}: methods must be a list of method names, e.g. [\"regmix\", \"doremi\"]")
    changes = {}
    if "proxy" in data:
        changes["proxy"] = _proxy_from(data.pop("proxy"), base.proxy, where)
    for key, value in data.items():
        if key in _TUPLES:
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise UserError(f"{where}: {key} must be a list, e.g. {key} = {_EXAMPLES.get(key, '[...]')}")
            value = tuple(_tokens(v, where, key) for v in value) if key in _TOKEN_LISTS else tuple(value)
        elif key == "target":
            value = _tokens(value, where, key)
        elif key == "corpus" and isinstance(value, str) and folder is not None and not value.startswith("hf:") \
                and not Path(value).expanduser().is_absolute():
            value = str((folder / value).resolve())
        changes[key] = value
    try:
        config = replace(base, **changes)
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise UserError(f"{where}: {' '.join(str(exc).split())}") from None
    return StudyFile(config, tuple(methods))


_EXAMPLES = {"domains": '["code", "books"]', "eval_domains": '["arxiv"]', "budgets": '["250k", "1M"]',
             "ratios": "[0.2, 3.0]", "seeds": "[0, 1]", "ddo_seeds": "[0]"}


def read_study_file(path, scales: Mapping[str, "StudyConfig"] | None = None) -> StudyFile:
    """A study from a TOML file: StudyConfig's fields at the top (budgets and target as token counts,
    250000 or "250k"; corpus as a path relative to the file, a token store, or hf:<name>), an optional
    `scale` to start from, `methods` (peers validated besides autoscale, uniform and ddo-reused) and a
    [proxy] table (`preset`, `family`, then any ProxyConfig field). The named scales are such files
    (`study/scales/*.toml`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"study file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read study file {str(path)!r}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"study file {str(path)!r} is not valid TOML ({exc})") from None
    found = study_from_mapping(data, f"study file {path.name}", folder=path.resolve().parent, scales=scales)
    return replace(found, path=str(path), text=text)


def _shipped_scales() -> dict[str, "StudyConfig"]:
    """The named scales, read from the study files shipped with the package, in size order."""
    out: dict[str, StudyConfig] = {}
    for name in ("smoke", "small", "medium", "gpu"):
        out[name] = read_study_file(SCALES_DIR / f"{name}.toml", scales=out).config
    return out


# Sizes: smoke (tests, about a minute), small (the default demo on 2 CPU cores), medium and gpu: the
# files in study/scales/, where each says why it is what it is.
SCALES: dict[str, StudyConfig] = _shipped_scales()


def study_config(scale: str = "small", family: str = "gpt2", **overrides) -> StudyConfig:
    """The study size `scale` with proxies of `family` (gpt2 or bert): that family's learning rate
    and DDO ratios, and a name of its own (`small-bert`) so that reports do not overwrite each
    other; then `overrides`."""
    if scale not in SCALES:
        raise UserError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    base = SCALES[scale]
    if family != base.proxy.family:
        base = replace(base, proxy=for_family(base.proxy, family), ratios=tuple(family_class(family).ddo_ratios),
                       name=f"{base.name}-{family}")
    return replace(base, **overrides)


def scale_from_env(default: str = "small") -> str:
    """The scale a notebook runs at: $AUTOSCALE_SCALE when set (the tests set 'smoke'), else `default`."""
    scale = os.environ.get("AUTOSCALE_SCALE", default)
    if scale not in SCALES:
        raise UserError(f"AUTOSCALE_SCALE={scale!r} is not a scale; choose one of {', '.join(SCALES)}")
    return scale


def available_tokens(config: StudyConfig) -> dict[str, int]:
    """Training tokens each training domain holds without repetition (whole windows)."""
    p = config.proxy
    data = token_data(config.corpus_ref, p)
    return {d: data.available_tokens(d, p.seq_len) for d in config.training_domains()}
