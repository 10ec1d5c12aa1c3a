"""Bad input, table-driven: every case is refused with one line naming the problem, exit status 2
(CLI) or a UserError (API), and nothing is trained or written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from autoscale_kit.cli.main import main
from autoscale_kit.core.errors import UserError
from tests.conftest import REPO

PAPER_RUNS = REPO / "data" / "paper" / "gpt2_1.2B_runs.csv"
PAPER_OPTIMA = REPO / "data" / "paper" / "gpt2_optima.csv"


def _write(p: Path, name: str, text: str) -> Path:
    path = p / name
    path.write_text(text)
    return path


def _config(p: Path, fields: dict) -> list[str]:
    return ["--config", _write(p, "cfg.json", json.dumps(fields))]


def _paper(p: Path, change) -> Path:
    path = p / "runs.csv"
    change(pd.read_csv(PAPER_RUNS)).to_csv(path, index=False)
    return path


TRAIN = ["train", "--total", "20k", "--preset", "tiny", "--quiet"]

# name -> (argv builder given a temporary folder, fragment the one-line message must contain)
CLI_CASES = {
    # train: mixtures and numbers
    "train duplicate domains": (lambda p: ["train", "--domains", "code,code", "--total", "20k"], "'code' is named twice"),
    "train empty domain name": (lambda p: ["train", "--domains", "code,,books", "--total", "20k"], "empty domain name"),
    "train unknown domain": (lambda p: ["train", "--domains", "web", "--total", "20k"], "unknown domain 'web'"),
    "train weight twice": (lambda p: ["train", "--weights", "code=1,books=1,code=3", "--total", "20k"],
                           "'code' is given twice"),
    "train weight not a number": (lambda p: ["train", "--weights", "code=x", "--total", "20k"], "'x'"),
    "train weight without value": (lambda p: ["train", "--weights", "code", "--total", "20k"], "domain=value"),
    "train weight without domain": (lambda p: ["train", "--weights", "=1", "--total", "20k"], "no domain name"),
    "train weights overflow": (lambda p: ["train", "--weights", "code=1e308,books=1e308", "--total", "1k"], "overflow"),
    "train negative weight": (lambda p: ["train", "--weights", "code=-1,books=1", "--total", "1k"], "non-negative"),
    "train total zero": (lambda p: ["train", "--total", "0"], "positive"),
    "train total negative": (lambda p: ["train", "--total=-5k"], "positive"),
    "train total text": (lambda p: ["train", "--total", "abc"], "'abc'"),
    "train total infinite": (lambda p: ["train", "--total", "inf"], "finite"),
    "train total overflow": (lambda p: ["train", "--total", "1e400"], "finite"),
    "train tokens and total": (lambda p: ["train", "--tokens", "code=10k", "--total", "10k"], "not both"),
    "train weights without total": (lambda p: ["train", "--weights", "code=1"], "give --total"),
    "train tokens unknown domain": (lambda p: ["train", "--tokens", "web=1k"], "unknown domain 'web'"),
    "train tokens text": (lambda p: ["train", "--tokens", "code=abc"], "'abc'"),
    "train tokens all zero": (lambda p: ["train", "--tokens", "code=0,books=0"], "positive total"),
    "train tokens beyond the data": (lambda p: ["train", "--tokens", "code=1e12"], "repetition='repeat'"),
    # train: proxy settings
    "train seed negative": (lambda p: [*TRAIN, "--seed", "-1"], "--seed"),
    "train seed text": (lambda p: [*TRAIN, "--seed", "one"], "--seed"),
    "train device gpu": (lambda p: [*TRAIN, "--device", "gpu"], "device must be"),
    "train device cuda without a GPU": (lambda p: [*TRAIN, "--device", "cuda"], "CUDA is not available"),
    "train device cuda:7": (lambda p: [*TRAIN, "--device", "cuda:7"], "cuda"),
    "train preset unknown": (lambda p: [*TRAIN[:-3], "--preset", "huge"], "unknown proxy preset"),
    "train config missing": (lambda p: [*TRAIN, "--config", p / "nope.json"], "cannot read config file"),
    "train config not json": (lambda p: [*TRAIN, "--config", _write(p, "c.json", "{lr: 1")], "not valid JSON"),
    "train config a list": (lambda p: [*TRAIN, "--config", _write(p, "c.json", "[1, 2]")], "JSON object"),
    "train config unknown field": (lambda p: [*TRAIN, *_config(p, {"n_layers": 3})], "unknown proxy config field"),
    "train config lr text": (lambda p: [*TRAIN, *_config(p, {"lr": "fast"})], "lr must be a positive number"),
    "train config lr zero": (lambda p: [*TRAIN, *_config(p, {"lr": 0})], "lr must be a positive number"),
    "train config lr infinite": (lambda p: [*TRAIN, *_config(p, {"lr": 1e999})], "lr must be a positive number"),
    "train config threads negative": (lambda p: [*TRAIN, *_config(p, {"threads": -1})], "threads must be"),
    "train config threads text": (lambda p: [*TRAIN, *_config(p, {"threads": "all"})], "threads must be"),
    "train config grad_clip negative": (lambda p: [*TRAIN, *_config(p, {"grad_clip": -1})], "grad_clip"),
    "train config n_layer zero": (lambda p: [*TRAIN, *_config(p, {"n_layer": 0})], "n_layer must be"),
    "train config n_layer fraction": (lambda p: [*TRAIN, *_config(p, {"n_layer": 2.5})], "n_layer must be"),
    "train config n_layer boolean": (lambda p: [*TRAIN, *_config(p, {"n_layer": True})], "n_layer must be"),
    "train config width and heads": (lambda p: [*TRAIN, *_config(p, {"n_embd": 63})], "divisible by n_head"),
    "train config warmup one": (lambda p: [*TRAIN, *_config(p, {"warmup_frac": 1})], "warmup_frac"),
    "train config min_lr_ratio": (lambda p: [*TRAIN, *_config(p, {"min_lr_ratio": 2})], "min_lr_ratio"),
    "train config weight decay": (lambda p: [*TRAIN, *_config(p, {"weight_decay": -0.1})], "weight_decay"),
    "train config beta1": (lambda p: [*TRAIN, *_config(p, {"beta1": 1})], "beta1"),
    "train config beta2": (lambda p: [*TRAIN, *_config(p, {"beta2": -0.5})], "beta2"),
    "train config dtype": (lambda p: [*TRAIN, *_config(p, {"dtype": "float16"})], "dtype must be"),
    "train config repetition": (lambda p: [*TRAIN, *_config(p, {"repetition": "sometimes"})], "repetition must be"),
    "train config family": (lambda p: [*TRAIN, *_config(p, {"family": "llama"})], "family must be"),
    "train config compile": (lambda p: [*TRAIN, *_config(p, {"compile": "yes"})], "compile must be"),
    "train config seed": (lambda p: [*TRAIN, *_config(p, {"seed": -3})], "seed must be"),
    "train config eval points": (lambda p: [*TRAIN, *_config(p, {"eval_points": -1})], "eval_points must be"),
    "train config val tokens": (lambda p: [*TRAIN, *_config(p, {"val_tokens": 0})], "val_tokens must be"),
    "train config tokenizer": (lambda p: [*TRAIN, *_config(p, {"tokenizer": ""})], "tokenizer must be"),
    "train config device": (lambda p: [*TRAIN, *_config(p, {"device": "tpu"})], "device must be"),
    # train: where things go
    "train corpus missing": (lambda p: [*TRAIN, "--corpus", p / "nowhere"], "does not exist"),
    "train store is a file": (lambda p: [*TRAIN, "--store", _write(p, "f", "x")], "is a file"),
    "train store under a file": (lambda p: [*TRAIN, "--store", _write(p, "f", "x") / "runs"], "is a file"),
    # demo
    "demo unknown scale": (lambda p: ["demo", "--scale", "huge"], "unknown scale 'huge'"),
    "demo one domain": (lambda p: ["demo", "--scale", "smoke", "--domains", "code"], "at least two domains"),
    "demo duplicate domains": (lambda p: ["demo", "--scale", "smoke", "--domains", "code,code"], "named twice"),
    "demo unknown domain": (lambda p: ["demo", "--scale", "smoke", "--domains", "code,web"], "unknown domain 'web'"),
    "demo seeds twice": (lambda p: ["demo", "--scale", "smoke", "--seeds", "0,0"], "seed twice"),
    "demo seeds text": (lambda p: ["demo", "--scale", "smoke", "--seeds", "a"], "--seeds"),
    "demo seeds negative": (lambda p: ["demo", "--scale", "smoke", "--seeds", "-1"], "seeds must hold"),
    "demo workers zero": (lambda p: ["demo", "--scale", "smoke", "--workers", "0"], "workers"),
    "demo workers negative": (lambda p: ["demo", "--scale", "smoke", "--workers", "-2"], "workers"),
    "demo out is a file": (lambda p: ["demo", "--scale", "smoke", "--out", _write(p, "f", "x")], "is a file"),
    "demo store is a file": (lambda p: ["demo", "--scale", "smoke", "--store", _write(p, "f", "x")], "is a file"),
    "demo corpus missing": (lambda p: ["demo", "--scale", "smoke", "--corpus", p / "nowhere"], "does not exist"),
    # compare
    "compare unknown method": (lambda p: ["compare", "--scale", "smoke", "--methods", "regmix,oracle"],
                               "unknown method"),
    "compare oracle-only method": (lambda p: ["compare", "--scale", "smoke", "--methods", "oracle-autoscale"],
                                   "unknown method"),
    "compare unknown mixture preset": (lambda p: ["compare", "--scale", "smoke", "--methods", "preset",
                                                  "--mixture-preset", "x"], "unknown preset"),
    "compare negative regmix runs": (lambda p: ["compare", "--scale", "smoke", "--regmix-runs", "-1"], "--regmix-runs"),
    "compare unknown scale": (lambda p: ["compare", "--scale", "huge"], "unknown scale"),
    "compare store is a file": (lambda p: ["compare", "--scale", "smoke", "--methods", "natural", "--store",
                                           _write(p, "f", "x")], "is a file"),
    # ddo
    "ddo missing file": (lambda p: ["ddo", p / "nope.csv"], "not found"),
    "ddo a folder": (lambda p: ["ddo", p], "is a folder"),
    "ddo empty file": (lambda p: ["ddo", _write(p, "e.csv", "")], "not a readable CSV"),
    "ddo no tokens columns": (lambda p: ["ddo", _write(p, "r.csv", "run,loss\nbase,2\n")], "no tokens:<domain>"),
    "ddo no validation columns": (lambda p: ["ddo", _write(p, "r.csv", "run,tokens:a\nbase,2\n")],
                                  "no loss:<domain> or ppl:<domain>"),
    "ddo bad number": (lambda p: ["ddo", _paper(p, lambda f: f.assign(**{"ppl:c4": ["x"] * len(f)}))], "not a number"),
    "ddo zero tokens": (lambda p: ["ddo", _paper(p, lambda f: f.assign(**{"tokens:c4": [0.0] * len(f)}))],
                        "greater than 0"),
    "ddo duplicate column": (lambda p: ["ddo", _write(p, "r.csv", "tokens:a,tokens:a,loss:a\n1,1,2\n")], "duplicate"),
    "ddo unknown objective": (lambda p: ["ddo", PAPER_RUNS, "--objective", "median"], "unknown objective"),
    "ddo objective unknown domain": (lambda p: ["ddo", PAPER_RUNS, "--objective", "ppl:nope"], "'nope'"),
    "ddo unknown validation domain": (lambda p: ["ddo", PAPER_RUNS, "--validation", "c4,nope"], "'nope'"),
    "ddo validation twice": (lambda p: ["ddo", PAPER_RUNS, "--validation", "c4,c4"], "named twice"),
    "ddo min-ratio too large": (lambda p: ["ddo", PAPER_RUNS, "--min-ratio", "2"], "below 1"),
    "ddo min-ratio negative": (lambda p: ["ddo", PAPER_RUNS, "--min-ratio", "-1"], "min_ratio"),
    "ddo max-ratio too small": (lambda p: ["ddo", PAPER_RUNS, "--max-ratio", "0.5"], "upper bounds allow only"),
    "ddo unknown base": (lambda p: ["ddo", PAPER_RUNS, "--base", "nope"], "no run named 'nope'"),
    "ddo bad amplitude": (lambda p: ["ddo", PAPER_RUNS, "--amplitude", "big"], "invalid choice"),
    "ddo bad surrogate": (lambda p: ["ddo", PAPER_RUNS, "--surrogate", "cubic"], "invalid choice"),
    "ddo verify a table": (lambda p: ["ddo", PAPER_RUNS, "--verify", "2"], "cannot do"),
    "ddo verify negative": (lambda p: ["ddo", "--scale", "smoke", "--budget", "30k", "--verify", "-1",
                                       "--store", p / "s"], "--verify must be >= 0"),
    "ddo neither table nor scale": (lambda p: ["ddo", "--budget", "30k"], "give a runs table"),
    "ddo table and scale": (lambda p: ["ddo", PAPER_RUNS, "--scale", "smoke", "--budget", "30k"], "not both"),
    "demo bad surrogate": (lambda p: ["demo", "--scale", "smoke", "--surrogate", "x", "--store", p / "s"],
                           "invalid choice"),
    "demo negative verify": (lambda p: ["demo", "--scale", "smoke", "--verify", "-2", "--store", p / "s",
                                        "--out", p / "o"], "verify must be an integer >= 0"),
    # predict
    "predict missing file": (lambda p: ["predict", p / "nope.csv", "--total", "1B"], "not found"),
    "predict total zero": (lambda p: ["predict", PAPER_OPTIMA, "--total", "0"], "positive"),
    "predict total text": (lambda p: ["predict", PAPER_OPTIMA, "--total", "many"], "'many'"),
    "predict no total": (lambda p: ["predict", PAPER_OPTIMA], "--total"),
    "predict unknown method": (lambda p: ["predict", PAPER_OPTIMA, "--total", "1B", "--method", "magic"],
                               "invalid choice"),
    "predict one scale": (lambda p: ["predict", _write(p, "o.csv", "tokens:a,tokens:b\n1,2\n"), "--total", "10"],
                          "2 or more scales"),
    # runs and corpus
    "runs no store": (lambda p: ["runs", "--store", p / "nowhere"], "does not exist"),
    "corpus missing source": (lambda p: ["corpus", p / "nowhere"], "does not exist"),
    "corpus duplicate domains": (lambda p: ["corpus", "--domains", "code,code"], "named twice"),
    "corpus unknown domain": (lambda p: ["corpus", "--domains", "web"], "unknown domain 'web'"),
    "no command": (lambda p: [], "required"),
    "unknown command": (lambda p: ["fly"], "invalid choice"),
}


def _files(root: Path) -> set[str]:
    return {str(q.relative_to(root)) for q in root.rglob("*")}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_refuses_bad_input_in_one_line_and_leaves_nothing(case, tmp_path, capsys, monkeypatch):
    build, fragment = CLI_CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)          # the default store (runs/) and reports (reports/) land here
    argv = [str(a) for a in build(tmp_path)]
    if argv and argv[0] in ("train", "demo", "compare") and "--store" not in argv:
        argv += ["--store", str(tmp_path / "store")]
    before = _files(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (case, out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, (case, err)
    assert fragment in err, (case, err)
    assert _files(tmp_path) == before, (case, "left behind", _files(tmp_path) - before)


def _api_cases():
    from autoscale_kit.data import corpus as corpus_mod
    from autoscale_kit.fit.ddo import fit_ddo
    from autoscale_kit.fit.plan import perturbation_plan
    from autoscale_kit.methods.registry import CompareConfig
    from autoscale_kit.core.mixture import Mixture
    from autoscale_kit.fit.predict import predict_optimum
    from autoscale_kit.proxy.config import ProxyConfig
    from autoscale_kit.runs.store import RunSpec, RunStore, run_many
    from autoscale_kit.study.config import StudyConfig

    base = Mixture({"a": 10.0, "b": 10.0})
    return {
        "fit_ddo of a number": (lambda: fit_ddo(123), "fit_ddo needs a runs table"),
        "fit_ddo of a list": (lambda: fit_ddo([1, 2]), "fit_ddo needs a runs table"),
        "Mixture of a number": (lambda: Mixture(5), "a mixture is built from"),
        "Mixture of a string": (lambda: Mixture("abc"), "a mixture is built from"),
        "Mixture of bare numbers": (lambda: Mixture([1, 2]), "(domain, tokens) pairs"),
        "Mixture negative": (lambda: Mixture({"a": -1}), "non-negative"),
        "Mixture infinite": (lambda: Mixture({"a": math.inf}), "finite"),
        "Mixture overflowing": (lambda: Mixture({"a": 1e308, "b": 1e308}), "overflow"),
        "Mixture empty": (lambda: Mixture({}), "at least one domain"),
        "Mixture nameless domain": (lambda: Mixture({"": 1}), "non-empty strings"),
        "Mixture domain twice": (lambda: Mixture([("a", 1), ("a", 2)]), "appears twice"),
        "Mixture text quantity": (lambda: Mixture({"a": "many"}), "must be a number"),
        "from_weights of a list": (lambda: Mixture.from_weights([1], 10), "mapping"),
        "from_weights zero total": (lambda: Mixture.from_weights({"a": 1}, 0), "positive number"),
        "from_weights boolean total": (lambda: Mixture.from_weights({"a": 1}, True), "positive number"),
        "from_weights text weight": (lambda: Mixture.from_weights({"a": "x"}, 10), "must be a number"),
        "from_weights all zero": (lambda: Mixture.from_weights({"a": 0}, 10), "not all be zero"),
        "from_weights overflowing": (lambda: Mixture.from_weights({"a": 1e308, "b": 1e308}, 10), "overflow"),
        "ProxyConfig lr text": (lambda: ProxyConfig(lr="fast"), "lr must be"),
        "ProxyConfig grad_clip negative": (lambda: ProxyConfig(grad_clip=-1.0), "grad_clip"),
        "ProxyConfig threads zero": (lambda: ProxyConfig(threads=0), "threads must be"),
        "ProxyConfig seed negative": (lambda: ProxyConfig(seed=-1), "seed must be"),
        "ProxyConfig device gpu": (lambda: ProxyConfig(device="gpu"), "device must be"),
        "ProxyConfig compile text": (lambda: ProxyConfig(compile="yes"), "compile must be"),
        "ProxyConfig boolean layers": (lambda: ProxyConfig(n_layer=True), "n_layer must be"),
        "ProxyConfig from_dict unknown": (lambda: ProxyConfig.from_dict({"layers": 2}), "unknown proxy config field"),
        "StudyConfig unknown objective": (lambda: StudyConfig(objective="median"), "unknown objective"),
        "StudyConfig objective domain": (lambda: StudyConfig(objective="loss:nope", domains=("code", "books")),
                                         "'nope' is not one of"),
        "StudyConfig objective no domain": (lambda: StudyConfig(objective="loss:"), "names no domain"),
        "StudyConfig min_ratio 1.5": (lambda: StudyConfig(min_ratio=1.5), "min_ratio"),
        "StudyConfig min_ratio negative": (lambda: StudyConfig(min_ratio=-0.1), "min_ratio"),
        "StudyConfig predictor unknown": (lambda: StudyConfig(predict_method="magic"), "predict_method"),
        "StudyConfig step predictor": (lambda: StudyConfig(predict_method="step"), "predict_method"),
        "StudyConfig ratio one": (lambda: StudyConfig(ratios=(1.0,)), "ratio 1 repeats"),
        "StudyConfig ratio twice": (lambda: StudyConfig(ratios=(0.2, 0.2)), "given twice"),
        "StudyConfig ratio negative": (lambda: StudyConfig(ratios=(-1.0,)), "positive finite"),
        "StudyConfig one domain": (lambda: StudyConfig(domains=("code",)), "at least two domains"),
        "StudyConfig domain twice": (lambda: StudyConfig(domains=("code", "code")), "twice"),
        "StudyConfig seeds twice": (lambda: StudyConfig(seeds=(0, 0)), "seed twice"),
        "StudyConfig seed negative": (lambda: StudyConfig(seeds=(-1,)), "seeds must hold"),
        "StudyConfig no seeds": (lambda: StudyConfig(seeds=()), "at least one seed"),
        "StudyConfig workers zero": (lambda: StudyConfig(workers=0), "workers must hold"),
        "StudyConfig workers fraction": (lambda: StudyConfig(workers=1.5), "workers must hold"),
        "StudyConfig budgets list": (lambda: StudyConfig(budgets=[1, 2]), "must be a tuple"),
        "StudyConfig fractional target": (lambda: StudyConfig(target=1.5), "target must hold"),
        "StudyConfig one budget": (lambda: StudyConfig(budgets=(100,)), "two or more budgets"),
        "StudyConfig budgets decreasing": (lambda: StudyConfig(budgets=(200, 100)), "increasing"),
        "StudyConfig nameless": (lambda: StudyConfig(name=""), "StudyConfig.name"),
        "StudyConfig proxy by name": (lambda: StudyConfig(proxy="tiny"), "must be a ProxyConfig"),
        "RunStore of a number": (lambda: RunStore(123), "a run store is a folder path"),
        "run_many of numbers": (lambda: run_many([1]), "run_many takes RunSpecs"),
        "RunSpec of a string": (lambda: RunSpec("x"), "RunSpec.mixture must be a Mixture"),
        "RunSpec config by name": (lambda: RunSpec(base, "tiny"), "RunSpec.config must be a ProxyConfig"),
        "plan ratios as text": (lambda: perturbation_plan(base, "0.2"), "list of numbers"),
        "plan of a dict": (lambda: perturbation_plan({"a": 1}), "must be a Mixture"),
        "predict nothing": (lambda: predict_optimum([], 10), "2 or more"),
        "compare unknown method": (lambda: CompareConfig(methods=("magic",)), "unknown method"),
        "corpus domains twice": (lambda: corpus_mod.load(domains=("code", "code")), "named twice"),
        "corpus domains as a string": (lambda: corpus_mod.load(domains="code"), "list of names"),
        "corpus no domains": (lambda: corpus_mod.load(domains=()), "at least one"),
    }


API_CASES = _api_cases()


@pytest.mark.parametrize("case", list(API_CASES))
def test_api_refuses_bad_input_with_a_user_error(case):
    call, fragment = API_CASES[case]
    with pytest.raises(UserError) as exc:
        call()
    assert fragment in str(exc.value), (case, str(exc.value))
    assert "\n" not in " ".join(str(exc.value).split()) and str(exc.value).strip()


def test_there_are_over_a_hundred_cases():
    assert len(CLI_CASES) + len(API_CASES) >= 100


def test_a_study_with_a_store_that_is_a_file_trains_nothing(tmp_path, monkeypatch):
    from autoscale_kit.runs import store as runs_mod
    from autoscale_kit.study.pipeline import run_study, study_config

    monkeypatch.setattr(runs_mod, "train_proxy", lambda *a, **k: pytest.fail("trained"))
    store = _write(tmp_path, "store", "x")
    with pytest.raises(UserError, match="is a file"):
        run_study(study_config("smoke"), store, progress=False)
    with pytest.raises(UserError, match="more than the corpus holds"):
        run_study(study_config("smoke", target=10 ** 10), tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists()


def test_an_unreachable_hub_fails_at_once_in_one_line(monkeypatch, capsys):
    import socket

    import datasets

    def no_network(*a, **k):
        raise socket.gaierror(-2, "Name or service not known")

    def retrying_client(*a, **k):
        raise AssertionError("the dataset client was called: it would retry for a minute")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(datasets, "load_dataset", retrying_client)
    code = main(["corpus", "hf:someone/some-dataset"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot reach the Hugging Face Hub" in err
