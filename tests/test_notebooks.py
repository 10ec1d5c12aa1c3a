"""Every notebook runs top to bottom at the smoke scale, and its paired files agree.

The notebooks share one run store here (as they share `runs/` for a user), so later notebooks
read the runs earlier ones trained.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO

nbformat = pytest.importorskip("nbformat")
jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_every_notebook_is_paired():
    pys = sorted((REPO / "notebooks").glob("*.py"))
    assert [p.stem for p in pys] == [p.stem for p in NOTEBOOKS] and len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_paired_files_agree_and_carry_no_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    py = jupytext.read(path.with_suffix(".py"))
    cells = [(c.cell_type, c.source.strip()) for c in nb.cells]
    assert cells == [(c.cell_type, c.source.strip()) for c in py.cells], "run `jupytext --sync notebooks/*.ipynb`"
    for c in nb.cells:
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None, "commit notebooks without outputs"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "scale" in params[0].source


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    return tmp_path_factory.mktemp("nb_runs")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_smoke_scale(path: Path, shared_store: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AUTOSCALE_SCALE", "smoke")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    nb = nbformat.read(path, as_version=4)
    # Point the notebook's run store (and report folder) at test folders: the parameters cell
    # is the place a user changes them too.
    for c in nb.cells:
        if "parameters" in c.metadata.get("tags", []):
            c.source += f"\nstore = {str(shared_store)!r}"
    workdir = tmp_path / "notebooks"
    workdir.mkdir()
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    stderr = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "stream" and o.get("name") == "stderr"]
    assert not any("Traceback" in s or "Error" in s for s in stderr), stderr
    # the notebooks that show DDO's answer show its uncertainty: the verdict (which is printed
    # only with an interval: it ends with the noise it rests on)
    if path.stem in ("03_ddo", "05_validate"):
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                       if o.output_type == "stream")
        assert "Noise:" in text and "pinned down" in text.lower(), text[-2000:]
    # the BERT notebook shows a masked window and both families' DDO verdicts, side by side
    if path.stem == "10_bert":
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                       if o.output_type == "stream")
        assert "carry a target" in text and "█" in text, text[:2000]
        assert "GPT-2: " in text and "BERT: " in text and "Noise:" in text, text[-2000:]
        assert "at the target," in text or "bert_study.json is not here" in text
