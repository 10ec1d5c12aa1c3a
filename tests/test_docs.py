"""The documentation site builds in strict mode (a broken link or a missing reference fails), and the
README's links point at pages that exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("mkdocs")


def build(root, out) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=root, capture_output=True, text=True, env=env, timeout=600)


def test_the_site_builds_in_strict_mode(tmp_path):
    done = build(REPO, tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    page = (tmp_path / "site" / "reference" / "fit" / "index.html").read_text()
    assert "fit_ddo" in page and "register_form" in page            # the API reference is generated
    arch = (tmp_path / "site" / "architecture" / "index.html").read_text()
    assert "Layers, lowest first" in arch                             # ARCHITECTURE.md is included, not copied


def test_strict_mode_fails_on_a_broken_link(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(REPO / "docs", root / "docs")
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copy(REPO / "ARCHITECTURE.md", root / "ARCHITECTURE.md")
    os.symlink(REPO / "autoscale_kit", root / "autoscale_kit")
    with open(root / "docs" / "index.md", "a") as fh:
        fh.write("\nSee [a page that is not there](no-such-page.md).\n")
    assert build(root, tmp_path / "site").returncode != 0


def test_readme_links_resolve():
    text = (REPO / "README.md").read_text()
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
    assert links
    missing = [link for link in links if not (REPO / link).exists()]
    assert not missing, missing
