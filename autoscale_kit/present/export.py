"""Use the answer: a mixture written for the trainers people use, checked against the data first.

Design choices:
- A mixture's weights are **token fractions** (what DDO and the predictor optimise). Trainers that
  sample fixed-length token chunks (Megatron-LM, Megatron-Core/Bridge, NeMo, OLMo-core, litgpt's
  `CombinedStreamingDataset` over token chunks) take them as they are; a trainer that samples
  whole documents (`datasets.interleave_datasets`) needs document probabilities
  p_d ∝ w_d / L_d, L_d the domain's mean document length in tokens, so that the expected token
  fractions are w_d. Every output says in its header which of the two it holds.
- Feasibility before export: at a total, domain d is read w_d·total / available_d times (epochs).
  Past `max_epochs` it is flagged (repetition changes the optimum: Muennighoff et al. 2023); with
  `cap=True` such domains are capped at `max_epochs` × available and the rest redistributed in
  proportion, iterated until nothing is over (`cap_and_redistribute`, shared with the study's
  validation runs).
- `sample_plan` realises a mixture as seeded chunk draws (each domain's chunks without
  replacement within an epoch) and `achieved_fractions` reads back what was drawn.
- Writers are plain text templates: no trainer is imported; the tests parse every format back.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from autoscale_kit.core import fmt
from autoscale_kit.core.errors import UserError
from autoscale_kit.core.mixture import cap_and_redistribute, parse_pairs, parse_tokens
from autoscale_kit.data import corpus as corpus_mod
from autoscale_kit.data.store import TokenStore
from autoscale_kit.data.tokenize import load_tokenizer

FORMATS = ("megatron", "megatron-bridge", "olmo-core", "nemo", "litgpt", "hf-datasets", "json", "csv")
DOCUMENT_SAMPLING = ("hf-datasets",)     # formats whose trainer samples documents, not token chunks
EXTENSIONS = {"megatron": "sh", "megatron-bridge": "json", "olmo-core": "yaml", "nemo": "yaml", "litgpt": "py",
              "hf-datasets": "py", "json": "json", "csv": "csv"}


@dataclass(frozen=True)
class Feasibility:
    """What training `total` tokens of a mixture would read from each domain."""

    total: int
    tokens: dict[str, int]                 # asked per domain
    available: dict[str, int]              # held per domain without repetition
    epochs: dict[str, float]               # tokens / available
    max_epochs: float
    capped: dict[str, float] | None = None  # the redistributed weights, when capping was asked

    @property
    def repeated(self) -> dict[str, float]:
        """Domains read more than once, with their epochs."""
        return {d: e for d, e in self.epochs.items() if e > 1 + 1e-9}

    @property
    def over(self) -> dict[str, float]:
        return {d: e for d, e in self.epochs.items() if e > self.max_epochs + 1e-9}

    def warnings(self) -> list[str]:
        limit = f"{self.max_epochs:g} epoch{'s' * (self.max_epochs != 1)}"
        return [f"{d} would be read {e:.2f} times ({fmt.tokens(self.tokens[d])} of its {fmt.tokens(self.available[d])} "
                f"tokens); past {limit} repetition changes what the best mixture is (Muennighoff et al. 2023)"
                for d, e in self.over.items()]


@dataclass(frozen=True)
class Export:
    """A mixture ready to write: token-fraction weights, and what the outputs need to say."""

    weights: dict[str, float]              # token fractions, summing to 1, in domain order
    source: str                            # where the weights came from, for the header
    total: int | None = None               # training tokens, when known
    paths: dict[str, str] = field(default_factory=dict)          # domain -> data prefix / path
    doc_tokens: dict[str, float] = field(default_factory=dict)   # domain -> mean document length (tokens)
    feasibility: Feasibility | None = None

    @property
    def document_probabilities(self) -> dict[str, float]:
        return document_probabilities(self.weights, self.doc_tokens)

    def path(self, domain: str) -> str:
        return self.paths.get(domain, domain)


def document_probabilities(weights: Mapping[str, float], doc_tokens: Mapping[str, float]) -> dict[str, float]:
    """p_d ∝ w_d / L_d: document sampling probabilities whose expected token fractions are the weights."""
    missing = [d for d in weights if not doc_tokens.get(d)]
    if missing:
        raise UserError(f"document sampling needs each domain's mean document length; missing for "
                        f"{', '.join(missing)} (give --doc-tokens domain=tokens,… or a corpus)")
    raw = {d: w / doc_tokens[d] for d, w in weights.items()}
    s = sum(raw.values())
    return {d: v / s for d, v in raw.items()}


# --- weights in --------------------------------------------------------------------------------

def check_weights(weights: Mapping[str, float], what: str = "the mixture") -> dict[str, float]:
    """Non-negative finite weights with a positive sum, normalised (token fractions)."""
    if not weights:
        raise UserError(f"{what} names no domain")
    out = {}
    for d, w in weights.items():
        if not isinstance(d, str) or not d.strip():
            raise UserError(f"{what}: a domain needs a name, got {d!r}")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise UserError(f"{what}: the weight of {d!r} must be a non-negative number, got {w!r}")
        out[d.strip()] = float(w)
    total = sum(out.values())
    if total <= 0:
        raise UserError(f"{what}: the weights must sum to a positive number, got {total:g}")
    return {d: w / total for d, w in out.items()}


def parse_assignments(text: str, what: str) -> dict[str, str]:
    """'a=1,b=/data/b' → {'a': '1', 'b': '/data/b'} (`mixture.parse_pairs`), refusing an empty value."""
    out = parse_pairs(text, what)
    empty = [k for k, v in out.items() if not v]
    if empty:
        raise UserError(f"{what}: {empty[0]!r} has no value; write domain=value")
    return out


def _numbers(pairs: Mapping[str, str], what: str) -> dict[str, float]:
    out = {}
    for k, v in pairs.items():
        try:
            out[k] = float(v)
        except ValueError:
            raise UserError(f"{what}: the value of {k!r} must be a number, got {v!r}") from None
    return out


def read_source(source: str, mixture: str = "autoscale") -> tuple[dict[str, float], dict]:
    """Weights and context from a report folder (its summary.json; `mixture` names which of its
    mixtures), a `ddo`/`predict`/`landscape fit` JSON, or 'domain=weight,…'. Context: `source`,
    and `total`/`corpus` where the source says them."""
    path = Path(source)
    if path.is_dir():
        summary = path / "summary.json"
        if not summary.is_file():
            raise UserError(f"{source!r} is a folder without summary.json; give a report folder of demo/compare")
        data = _read_json(summary)
        mixes = data.get("mixtures") or {}
        if mixture not in mixes:
            raise UserError(f"report {source!r} has no mixture {mixture!r}; it has {', '.join(mixes) or 'none'}")
        cfg = data.get("config") or {}
        return check_weights(mixes[mixture], f"mixture {mixture!r} of {source}"), {
            "source": f"{source} ({mixture})", "total": cfg.get("target"), "corpus": cfg.get("corpus"),
            "corpus_known": True}
    if path.suffix.lower() == ".json" or path.is_file():
        if not path.is_file():
            raise UserError(f"{source!r} does not exist")
        data = _read_json(path)
        if isinstance(data, dict) and isinstance(data.get("target"), dict) and "optimum" in data["target"]:
            t = data["target"]          # landscape fit --target: the cross-budget model's optimum there
            return check_weights(t["optimum"], str(source)), {"source": f"{source} (landscape at the target)",
                                                              "total": t.get("total")}
        if isinstance(data, dict) and isinstance(data.get("scales"), list) and data["scales"] \
                and isinstance(data["scales"][-1], dict) and "optimum" in data["scales"][-1]:
            s = max(data["scales"], key=lambda x: x.get("total", 0))     # landscape fit: its largest budget
            return check_weights(s["optimum"], str(source)), {"source": f"{source} (landscape at {s['total']:,.0f})",
                                                              "total": s.get("total")}
        if isinstance(data, dict) and isinstance(data.get("weights"), dict):          # ddo / predict --json
            return check_weights(data["weights"], str(source)), {"source": str(source), "total": data.get("total")}
        raise UserError(f"{source!r} holds no mixture: expected a ddo/predict JSON ('weights'), a landscape fit "
                        f"JSON ('scales' or 'target') or a report folder")
    if "=" in source:
        return check_weights(_numbers(parse_assignments(source, "the mixture"), "the mixture"), "the mixture"), {
            "source": "given on the command line"}
    raise UserError(f"{source!r} is neither a file, a report folder nor domain=weight pairs")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{str(path)!r} is not valid JSON ({exc.msg})") from None


# --- feasibility -------------------------------------------------------------------------------

def feasibility(weights: Mapping[str, float], total: int, available: Mapping[str, int], *, max_epochs: float = 1.0,
                cap: bool = False) -> Feasibility:
    """Epochs per domain at `total`; with `cap`, the weights capped at `max_epochs` and redistributed."""
    missing = [d for d in weights if d not in available]
    if missing:
        raise UserError(f"no data for {', '.join(missing)}: the corpus has {', '.join(available)}")
    if not (isinstance(max_epochs, (int, float)) and max_epochs > 0 and math.isfinite(max_epochs)):
        raise UserError(f"--max-epochs must be a positive number, got {max_epochs!r}")
    tokens = {d: int(round(w * total)) for d, w in weights.items()}
    epochs = {d: (tokens[d] / available[d] if available[d] else (math.inf if tokens[d] else 0.0)) for d in weights}
    capped = None
    if cap and any(e > max_epochs + 1e-9 for e in epochs.values()):
        counts = cap_and_redistribute(weights, total, {d: max_epochs * available[d] for d in weights})
        capped = {d: n / total for d, n in counts.items()}
    return Feasibility(int(total), tokens, {d: int(available[d]) for d in weights}, epochs, float(max_epochs), capped)


def corpus_facts(corpus, tokenizer: str = "bytes") -> tuple[dict[str, int], dict[str, float]]:
    """(available training tokens, mean document length in tokens) per domain of a corpus (or of a
    token store, which counted both when it was built): the length is the domain's train tokens
    over the documents that contributed to its train split."""
    if isinstance(corpus, TokenStore):
        return corpus.facts()
    tok = load_tokenizer(tokenizer)
    available, lengths = {}, {}
    for d in corpus:
        n = tok.count(d.train)
        available[d.name] = n
        docs = int((d.documents or {}).get("train", 0))
        lengths[d.name] = n / docs if docs > 0 else float(n)
    return available, lengths


# --- writers -----------------------------------------------------------------------------------

def _header(e: Export, fmt: str, comment: str) -> str:
    unit = ("document sampling probabilities p_d ∝ w_d / L_d (L_d: the domain's mean document length in tokens), "
            "so that the expected token fractions are the mixture's weights") if fmt in DOCUMENT_SAMPLING else \
        "token fractions (this trainer samples fixed-length token chunks, so the fractions are used as they are)"
    lines = [f"mixture from {e.source}", f"weights: {unit}"]
    if e.total:
        lines.append(f"total: {e.total:,} training tokens")
    if not e.paths:
        lines.append("paths: placeholders named after the domains; give the real prefixes with --paths domain=prefix,…")
    f = e.feasibility
    if f is not None:
        if f.capped is not None:
            lines.append(f"capped at {f.max_epochs:g} epochs and redistributed: {', '.join(f.over)}")
        for d, ep in f.epochs.items():
            if ep > 1 + 1e-9:
                lines.append(f"{d}: {ep:.2f} epochs of its data at this total")
    return "\n".join(f"{comment} {x}" for x in lines) + "\n"


def _fmt(w: float) -> str:
    return f"{w:.6f}"


def write(e: Export, fmt: str) -> str:
    """The mixture in format `fmt` (see FORMATS), with a header saying what the weights are."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    w = e.weights if e.feasibility is None or e.feasibility.capped is None else e.feasibility.capped
    domains = list(w)
    if fmt == "megatron":
        blend = " ".join(f"{_fmt(w[d])} {e.path(d)}" for d in domains)
        return _header(e, fmt, "#") + f"# Megatron-LM: pass as --data-path (weight prefix pairs)\nDATA_PATH=\"{blend}\"\n"
    if fmt == "megatron-bridge":
        body = {"blend": [[e.path(d) for d in domains], [round(w[d], 6) for d in domains]],
                "_comment": _header(e, fmt, "").replace("\n ", "; ").strip()}
        return json.dumps(body, indent=2) + "\n"
    if fmt == "olmo-core":
        lines = [_header(e, fmt, "#").rstrip("\n"), "# OLMo-core: SourceMixtureDatasetConfig", "source_mixture_config:"]
        if e.total:
            lines.append(f"  max_tokens: {int(e.total)}")
        lines += ["  seed: 0", "  source_configs:"]
        for d in domains:
            rep = max(1.0, e.feasibility.epochs[d]) if e.feasibility is not None else 1.0
            lines += [f"    - source_name: {_yaml_str(d)}", f"      paths: [{_yaml_str(e.path(d))}]",
                      f"      target_ratio: {_fmt(w[d])}", f"      max_repetition_ratio: {rep:.4g}"]
        return "\n".join(lines) + "\n"
    if fmt == "nemo":
        lines = [_header(e, fmt, "#").rstrip("\n"), "# NeMo (Megatron GPT): model.data.data_prefix, weight/path pairs",
                 "model:", "  data:", "    data_prefix:"]
        for d in domains:
            lines += [f"      - {_fmt(w[d])}", f"      - {_yaml_str(e.path(d))}"]
        return "\n".join(lines) + "\n"
    if fmt == "litgpt":
        return (_header(e, fmt, "#") + "from litdata.streaming import CombinedStreamingDataset, StreamingDataset\n\n"
                f"DOMAINS = {json.dumps(domains)}\nPATHS = {json.dumps([e.path(d) for d in domains])}\n"
                f"WEIGHTS = {json.dumps([round(w[d], 6) for d in domains])}\n\n"
                "datasets = [StreamingDataset(input_dir=p) for p in PATHS]\n"
                "train_data = CombinedStreamingDataset(datasets=datasets, weights=WEIGHTS, seed=42, iterate_over_all=False)\n")
    if fmt == "hf-datasets":
        p = document_probabilities(w, e.doc_tokens)
        return (_header(e, fmt, "#") + "from datasets import interleave_datasets, load_dataset\n\n"
                f"DOMAINS = {json.dumps(domains)}\nPATHS = {json.dumps([e.path(d) for d in domains])}\n"
                f"TOKEN_FRACTIONS = {json.dumps([round(w[d], 6) for d in domains])}\n"
                # 10 digits: numpy's choice (which interleave_datasets calls) refuses probabilities whose sum
                # is off 1 by more than ~1e-8, which 6 digits over a few domains can be
                f"PROBABILITIES = {json.dumps([round(p[d], 10) for d in domains])}\n"
                + (f"TOTAL_TOKENS = {int(e.total)}  # train on this many tokens of `mixed`, then stop\n" if e.total else "")
                + "\n"
                "parts = [load_dataset(\"json\", data_files=path, split=\"train\") for path in PATHS]\n"
                "# 'all_exhausted' keeps sampling (repeating the smaller sources) until every source has been read\n"
                "# once; 'first_exhausted' stops at the first empty one, which changes the fractions near the end.\n"
                "mixed = interleave_datasets(parts, probabilities=PROBABILITIES, seed=0, stopping_strategy=\"all_exhausted\")\n")
    if fmt == "json":
        out = {"weights": {d: round(w[d], 6) for d in domains}, "unit": "token fractions", "source": e.source}
        if e.total:
            out["total"] = int(e.total)
        if e.paths:
            out["paths"] = {d: e.path(d) for d in domains}
        if e.doc_tokens and all(e.doc_tokens.get(d) for d in w):
            out["document_probabilities"] = {d: round(v, 6) for d, v in document_probabilities(w, e.doc_tokens).items()}
        if e.feasibility is not None:
            out["epochs"] = {d: round(v, 4) for d, v in e.feasibility.epochs.items()}
        return json.dumps(out, indent=2) + "\n"
    buf = io.StringIO()                                                        # csv
    buf.write(_header(e, fmt, "#"))
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["domain", "weight", "tokens", "epochs", "path"])
    for d in domains:
        tokens = int(round(w[d] * e.total)) if e.total else ""
        epochs = f"{tokens / e.feasibility.available[d]:.4f}" if e.feasibility is not None and tokens != "" \
            and e.feasibility.available[d] else ""
        writer.writerow([d, _fmt(w[d]), tokens, epochs, e.path(d)])
    return buf.getvalue()


def _yaml_str(s: str) -> str:
    return json.dumps(s)     # a JSON string is a valid YAML double-quoted scalar


def export_filename(stem: str, fmt: str) -> str:
    """`autoscale.megatron.sh`, `autoscale.olmo-core.yaml`, …; `autoscale.json` and `autoscale.csv`."""
    ext = EXTENSIONS[fmt]
    return f"{stem}.{ext}" if fmt == ext else f"{stem}.{fmt}.{ext}"


def write_all(e: Export, folder: str | Path, stem: str = "mixture") -> list[Path]:
    """Every format into `folder` (`export_filename`); formats that need something the export
    lacks (document lengths) are skipped. Returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for form in FORMATS:
        try:
            text = write(e, form)
        except UserError:
            continue
        p = folder / export_filename(stem, form)
        p.write_text(text)
        out.append(p)
    return out


# --- what a trainer would sample ---------------------------------------------------------------

@dataclass(frozen=True)
class Draw:
    domain: str
    chunk: int       # index of the chunk (or document) within its domain
    epoch: int       # 0 for a first read, 1+ for repeats


def sample_plan(weights: Mapping[str, float], total: int, chunks: Mapping[str, int], chunk_tokens: int,
                seed: int = 0) -> list[Draw]:
    """Seeded chunk draws realising `weights` at `total` tokens: domain d gets round(w_d·total /
    chunk_tokens) chunks (largest remainders, so that the counts add up), drawn without replacement
    within each epoch of its `chunks[d]` chunks, all shuffled together."""
    weights = check_weights(weights)
    n_total = int(total // chunk_tokens)
    if n_total < 1:
        raise UserError(f"the total {total:,} is less than one chunk of {chunk_tokens:,} tokens")
    exact = {d: w * n_total for d, w in weights.items()}
    counts = {d: int(math.floor(v)) for d, v in exact.items()}
    for d in sorted(exact, key=lambda d: exact[d] - counts[d], reverse=True)[: n_total - sum(counts.values())]:
        counts[d] += 1
    rng = np.random.default_rng(seed)
    draws = []
    for d, n in counts.items():
        have = int(chunks.get(d, 0))
        if n and have <= 0:
            raise UserError(f"domain {d!r} has no chunk of {chunk_tokens} tokens to draw from")
        epoch = 0
        while n > 0:
            take = min(n, have)
            draws += [Draw(d, int(c), epoch) for c in rng.permutation(have)[:take]]
            n -= take
            epoch += 1
    order = rng.permutation(len(draws))
    return [draws[i] for i in order]


def achieved_fractions(draws: Sequence[Draw], tokens_of=None) -> dict[str, float]:
    """Token fractions the draws realise; `tokens_of(draw)` gives a draw's tokens (default: equal chunks)."""
    per: dict[str, float] = {}
    for dr in draws:
        per[dr.domain] = per.get(dr.domain, 0.0) + (1.0 if tokens_of is None else float(tokens_of(dr)))
    s = sum(per.values())
    return {d: v / s for d, v in per.items()}


def fraction_check(requested: Mapping[str, float], achieved: Mapping[str, float], n_draws: int,
                   z: float = 4.0) -> dict[str, dict]:
    """Per domain: requested, achieved, the binomial sampling error of a fraction over `n_draws`
    draws, and whether the two agree within `z` of it (plus the rounding of whole draws)."""
    out = {}
    for d, p in requested.items():
        a = achieved.get(d, 0.0)
        se = math.sqrt(max(p * (1 - p), 0.0) / max(n_draws, 1))
        out[d] = {"requested": p, "achieved": a, "sampling_error": se,
                  "ok": abs(a - p) <= z * se + 1.0 / max(n_draws, 1)}
    return out


# --- a mixture made ready for a trainer -------------------------------------------------------------

def source_corpus_facts(weights: Mapping[str, float], ctx: Mapping, corpus=None):
    """(available tokens, mean document lengths) per domain from the corpus the mixture is about
    (`corpus`, else the source's, else the bundled one when it holds every domain), or (None, {})
    when no corpus holds its domains."""
    source = corpus if corpus is not None else ctx.get("corpus")
    explicit = corpus is not None or ctx.get("corpus_known", False)
    if not explicit:
        bundled = corpus_mod.load(None).domains
        if not set(weights) <= set(bundled):
            return None, {}
    loaded = corpus_mod.load(source)
    missing = [d for d in weights if d not in loaded.domains]
    if missing:
        raise UserError(f"the corpus has no domain {', '.join(missing)} (it has {', '.join(loaded.domains)})")
    available, lengths = corpus_facts(loaded.select(list(weights)))
    return {d: available[d] for d in weights}, {d: lengths[d] for d in weights}


def _per_domain_text(text_or_map, weights, flag: str) -> dict[str, str]:
    given = parse_assignments(text_or_map, flag) if isinstance(text_or_map, str) else dict(text_or_map)
    unknown = [d for d in given if d not in weights]
    if unknown:
        raise UserError(f"{flag} names {', '.join(unknown)}, not in the mixture ({', '.join(weights)})")
    return given


def prepare_export(source, *, mixture: str = "autoscale", total: float | None = None, paths=None, doc_tokens=None,
                   corpus=None, max_epochs: float = 1.0, cap: bool = False,
                   no_repetition: bool = False) -> tuple[Export, list[str]]:
    """The mixture of `source` (a report folder, a ddo/predict/landscape JSON, or domain=weight pairs)
    made ready to write: its total (given, else the source's), a data path per domain (`paths`: all
    or none), mean document lengths (measured from the corpus, or `doc_tokens`), and each domain's
    epochs at the total checked against the corpus (capped at `max_epochs` with `cap`; refused past
    one read with `no_repetition`). Returns the Export and the warnings a person should read."""
    weights, ctx = read_source(source, mixture)
    total = int(round(total)) if total is not None else (int(round(ctx["total"])) if ctx.get("total") else None)
    if total is not None and total <= 0:
        raise UserError(f"--total must be a positive number of tokens, got {total}")
    chosen_paths = {}
    if paths:
        chosen_paths = _per_domain_text(paths, weights, "--paths")       # a path per domain, none empty
        missing = [d for d in weights if d not in chosen_paths]
        if missing:
            raise UserError(f"--paths gives no path for {', '.join(missing)}; give one for every domain of the mixture")
    available, lengths = source_corpus_facts(weights, ctx, corpus)
    if doc_tokens:
        for d, v in _per_domain_text(doc_tokens, weights, "--doc-tokens").items():
            try:
                n = float(parse_tokens(v))
            except UserError:
                raise UserError(f"--doc-tokens: the length of {d!r} must be a positive number, got {v!r}") from None
            if not n > 0:
                raise UserError(f"--doc-tokens: the length of {d!r} must be positive, got {v!r}")
            lengths[d] = n
    feas, warnings = None, []
    if total is not None and available is not None:
        feas = feasibility(weights, total, available, max_epochs=max_epochs, cap=cap)
        final = feas.capped or weights
        if no_repetition:
            after = {d: final[d] * total / available[d] for d in final if available[d]}
            over = {d: e for d, e in after.items() if e > 1 + 1e-9}
            if over:
                raise UserError(f"at {fmt.tokens(total)} tokens "
                                f"{', '.join(f'{d} would be read {e:.2f} times' for d, e in over.items())}"
                                f" and --no-repetition refuses it; lower --total, or --cap with --max-epochs 1")
        warnings = [w + (" (capped: see --cap)" if feas.capped is None else " (capped)") for w in feas.warnings()]
    elif no_repetition or cap:
        raise UserError("--cap and --no-repetition need a total and the domains' sizes: give --total (and --corpus)")
    export = Export(weights, ctx["source"], total, chosen_paths, {d: lengths[d] for d in weights if d in lengths}, feas)
    return export, warnings
