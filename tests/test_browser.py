"""The browser check (opt-in): notebooks opened in JupyterLab in Debian's Chromium render their
widgets and plots. Run with `AUTOSCALE_BROWSER=1 .venv/bin/python -m pytest -m browser`; it needs
`apt-get install chromium` and `pip install playwright`. Screenshots go to reports/browser/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO


def _opt_in():
    if not os.environ.get("AUTOSCALE_BROWSER"):
        pytest.skip("opt-in: set AUTOSCALE_BROWSER=1 (needs chromium and playwright)")
    if not shutil.which("chromium"):
        pytest.fail("AUTOSCALE_BROWSER is set but chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright")


@pytest.mark.browser
def test_the_browser_check_fails_on_empty_axes(tmp_path):
    """A plotly figure with axes and no data (what 07's OracleLab once showed) fails the check,
    next to one with data, which passes; every cell ran (the check waited for the kernel)."""
    _opt_in()
    import nbformat

    root = tmp_path / "nbs"
    root.mkdir()
    head = "import plotly.graph_objects as go\n"
    for name, body in (("drawn", "go.Figure(go.Bar(x=['a', 'b'], y=[1, 2]))"), ("empty", "go.Figure()")):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(head), nbformat.v4.new_code_cell(body)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / f"{name}.ipynb")
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "browser_check.py"), "--root", str(root),
                           "--notebooks", "drawn,empty", "--out", str(tmp_path / "out")],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("ok   drawn") and "0 cells not run" in line for line in lines), proc.stdout
    assert any(line.startswith("FAIL empty") and "empty plots: 1: untitled" in line for line in lines), proc.stdout


@pytest.mark.browser
def test_notebooks_render_in_chromium():
    _opt_in()
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "browser_check.py")], cwd=REPO,
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok  ") >= 8
