"""Packaging promises: environment.yml matches pyproject.toml, the README's commands are what CI runs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import yaml
from packaging.requirements import Requirement

from tests.conftest import REPO

CONDA_NAMES = {"torch": "pytorch"}  # PyPI name → conda-forge name where they differ


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text())


def _conda_specs(env: dict) -> dict[str, str]:
    specs = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", dep)
            specs[m.group(1).lower()] = m.group(2).replace(" ", "")
    return specs


def _pip_lines(env: dict) -> list[str]:
    for dep in env["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return dep["pip"]
    return []


def test_environment_uses_conda_forge_only():
    env = _environment()
    assert env["channels"][0] == "conda-forge"
    assert "defaults" not in env["channels"]


def test_every_core_requirement_is_in_environment_with_the_same_range():
    env = _environment()
    conda = _conda_specs(env)
    pip = {Requirement(line).name.lower(): str(Requirement(line).specifier)
           for line in _pip_lines(env) if not line.startswith("-")}
    for raw in _pyproject()["project"]["dependencies"]:
        req = Requirement(raw)
        name = req.name.lower()
        spec = ",".join(sorted(str(req.specifier).split(",")))
        conda_name = CONDA_NAMES.get(name, name)
        if conda_name in conda:
            assert ",".join(sorted(conda[conda_name].split(","))) == spec, (name, conda[conda_name], spec)
        else:
            assert name in pip, f"{name} is required by pyproject.toml but missing from environment.yml"
            assert ",".join(sorted(pip[name].split(","))) == spec, (name, pip[name], spec)


def test_environment_has_nothing_pyproject_does_not_know():
    env = _environment()
    core = {CONDA_NAMES.get(Requirement(r).name.lower(), Requirement(r).name.lower())
            for r in _pyproject()["project"]["dependencies"]}
    extra = set(_conda_specs(env)) - core - {"python", "pip"}
    assert not extra, f"environment.yml lists {extra} that pyproject.toml does not require"


def test_environment_python_matches_requires_python():
    assert _conda_specs(_environment())["python"] == _pyproject()["project"]["requires-python"]


def test_environment_installs_the_package_with_existing_extras():
    env = _environment()
    extras_known = set(_pyproject()["project"]["optional-dependencies"])
    installs = [line for line in _pip_lines(env) if line.startswith("-e .")]
    assert len(installs) == 1
    extras = re.search(r"\[(.*)\]", installs[0]).group(1).split(",")
    assert set(extras) <= extras_known


def _readme_commands() -> list[str]:
    """The indented commands in the README before its first heading after the title."""
    lines = (REPO / "README.md").read_text().splitlines()
    body = []
    for line in lines[1:]:
        if line.startswith("## "):
            break
        body.append(line)
    return [line.strip() for line in body if line.startswith("    ") and line.strip()]


def test_readme_starts_with_setup_and_test_commands():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    setup, test = commands
    assert "pip install torch==" in setup and "pip install -e" in setup
    assert "pytest" in test


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    _, test = _readme_commands()
    assert test in ci


def test_console_script_and_module_entry_point():
    scripts = _pyproject()["project"]["scripts"]
    assert scripts["autoscale-kit"] == "autoscale_kit.cli.main:main"
    out = subprocess.run([sys.executable, "-m", "autoscale_kit", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "corpus" in out.stdout
