"""Study files: a TOML file describes a study; the named scales are such files; a bad field is
one line naming the field and the fix; a file runs end to end at smoke scale."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from autoscale_kit.core.errors import UserError
from autoscale_kit.study.config import SCALES, SCALES_DIR, StudyConfig, read_study_file, study_config


def test_the_named_scales_are_the_shipped_files():
    assert sorted(p.stem for p in SCALES_DIR.glob("*.toml")) == sorted(SCALES)
    for name, config in SCALES.items():
        assert read_study_file(SCALES_DIR / f"{name}.toml", scales=SCALES).config == config
    small = SCALES["small"]
    assert small.budgets == (250_000, 1_000_000) and small.target == 4_000_000 and small.verify == 3
    assert small.proxy.n_embd == 96 and small.proxy.batch_size == 4 and small.proxy.threads == 1


def write(tmp_path, text):
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def test_a_file_of_every_field(tmp_path):
    path = write(tmp_path, """
name = "mine"
corpus = "data/mycorpus"
domains = ["code", "books"]
eval_domains = ["wikipedia"]
budgets = ["100k", 400000]
target = "1.6M"
ratios = [0.25, 4]
objective = "loss:wikipedia"
min_ratio = 0.1
seeds = [0, 1, 2]
ddo_seeds = [3]
predict_method = "least-squares"
workers = 2
surrogate = "transfer"
verify = 2
interval_draws = 50
level = 0.8
methods = ["regmix"]

[proxy]
preset = "mini"
family = "bert"
batch_size = 8
""")
    found = read_study_file(path)
    c = found.config
    assert c.corpus == str((tmp_path / "data" / "mycorpus").resolve())    # relative to the file
    assert c.budgets == (100_000, 400_000) and c.target == 1_600_000 and c.ratios == (0.25, 4)
    assert c.domains == ("code", "books") and c.eval_domains == ("wikipedia",)
    assert c.proxy.family == "bert" and c.proxy.batch_size == 8 and c.proxy.n_embd == 96
    assert found.methods == ("regmix",) and "name = \"mine\"" in found.text
    assert {f.name for f in fields(StudyConfig)} <= set(c.to_dict())


@pytest.mark.parametrize("text, message", [
    ('budget = ["1M", "4M"]', "unknown field 'budget' (did you mean 'budgets'?)"),
    ('budgets = "1M"', "budgets must be a list, e.g. budgets = [\"250k\", \"1M\"]"),
    ('budgets = ["1M", "lots"]', "budgets: cannot read 'lots' as a number of tokens"),
    ('target = true', "target must be a number of tokens"),
    ('scale = "huge"', "scale 'huge' is not a named scale"),
    ('seeds = [0, 0]', "StudyConfig.seeds names a seed twice"),
    ('methods = "regmix"', "methods must be a list of method names"),
    ('domains = ["code", "books"]\neval_domains = ["code"]', "'code' is both a training domain and an evaluation-only"),
    ('[proxy]\npreset = "huge"', "proxy.preset 'huge' is not a preset"),
    ('[proxy]\nlearning_rate = 1e-3', "unknown proxy field 'learning_rate'"),
    ('[proxy]\nlr = -1', "ProxyConfig.lr must be a positive number"),
    ('name = ', "is not valid TOML"),
])
def test_a_bad_field_is_one_line_naming_it(tmp_path, text, message):
    with pytest.raises(UserError) as err:
        read_study_file(write(tmp_path, text))
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "study.toml" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        read_study_file(tmp_path / "none.toml")


def test_evaluation_only_domains_in_a_study():
    config = study_config("smoke", domains=("code", "books"), eval_domains=("wikipedia",))
    assert config.corpus_ref.domains == ("code", "books", "wikipedia")
    assert config.training_domains() == ("code", "books")
    everything = study_config("smoke", domains=None, eval_domains=("wikipedia",))
    assert "wikipedia" not in everything.training_domains() and len(everything.training_domains()) == 6
    with pytest.raises(UserError, match="'nope' is not in the corpus"):
        study_config("smoke", domains=None, eval_domains=("nope",)).training_domains()
    assert "eval_domains" not in study_config("smoke").to_dict()       # the shipped records still match


def test_a_study_file_runs_end_to_end(run_cli, tmp_path):
    path = write(tmp_path, """
scale = "smoke"
name = "from-a-file"
domains = ["code", "books"]
eval_domains = ["wikipedia"]
""")
    out = tmp_path / "report"
    r = run_cli("demo", "--study", path, "--store", tmp_path / "runs", "--out", out, "--quiet")
    assert r.code == 0, r.err
    assert (out / "study.toml").read_text() == path.read_text()
    assert "study file" in (out / "report.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["eval_domains"] == ["wikipedia"]
    assert set(summary["mixtures"]["autoscale"]) == {"code", "books"}
    header = (out / "runs.csv").read_text().splitlines()[0].split(",")
    assert "loss:wikipedia" in header and "tokens:wikipedia" not in header
    r = run_cli("demo", "--study", path, "--scale", "smoke")
    assert r.code == 2 and "not both" in r.err
