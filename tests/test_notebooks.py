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
    assert [p.stem for p in pys] == [p.stem for p in NOTEBOOKS] and NOTEBOOKS


def test_every_notebook_is_documented_and_every_documented_notebook_exists():
    import re

    listed = set(re.findall(r"^\| `(\d\d_\w+)` \|", (REPO / "docs" / "notebooks.md").read_text(), re.M))
    assert listed == {p.stem for p in NOTEBOOKS}


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
    assert len(params) <= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_parameter_does_something(path: Path):
    """A name the parameters cell sets is read by a later cell (a parameter that does nothing misleads
    the reader who changes it), and a notebook that follows AUTOSCALE_SCALE declares `scale` there."""
    import ast

    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    idx = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    later = "\n".join(c.source for c in code[idx[0] + 1:] if not c.source.startswith("%")) if idx else \
        "\n".join(c.source for c in code)
    read = {n.id for n in ast.walk(ast.parse(later)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    if idx:
        params = {t.id for s in ast.parse(code[idx[0]].source).body if isinstance(s, ast.Assign)
                  for t in s.targets if isinstance(t, ast.Name)}
        assert params and params <= read, f"parameters never read: {sorted(params - read)}"
    if "scale_from_env" in later:
        assert idx and "scale" in code[idx[0]].source, "follows AUTOSCALE_SCALE without a `scale` parameter"


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    return tmp_path_factory.mktemp("nb_runs")


# JupyterLab's backend: figures a cell leaves registered in pyplot are shown at its end, besides
# the figure the cell returns (Agg, which .ci/run exports, would hide a duplicate)
INLINE = "module://matplotlib_inline.backend_inline"


# notebooks and the matplotlib figures they show at least
MATPLOTLIB_FIGURES = {"00_quickstart": 4, "03_ddo": 5, "05_validate": 3, "06_paper_figures": 5, "10_bert": 2}


def images(nb) -> list[tuple[int, str]]:
    """(cell index, png) for every image the notebook shows."""
    return [(i, o["data"]["image/png"]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if "image/png" in o.get("data", {})]


def assert_each_figure_once(nb) -> None:
    seen: dict[str, int] = {}
    for i, png in images(nb):
        assert png not in seen, f"cell {i} shows the same image as cell {seen[png]} (a figure shown twice)"
        seen[png] = i


def execute(nb, workdir: Path, timeout: int = 600):
    workdir.mkdir(parents=True, exist_ok=True)
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[:1]
    return nb


def test_a_duplicated_figure_is_caught(tmp_path, monkeypatch):
    """The check the notebook tests rely on fails on the defect it exists for: a figure made
    through pyplot and returned as the cell's value is shown twice under the inline backend."""
    monkeypatch.setenv("MPLBACKEND", INLINE)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\nfig"),
        nbformat.v4.new_code_cell("from autoscale_kit.present.plots import weight_bars\n"
                                  "weight_bars({'m': {'a': 0.3, 'b': 0.7}})")])
    execute(nb, tmp_path)
    assert [i for i, _ in images(nb)] == [0, 0, 1]      # pyplot's twice, the toolkit's once
    with pytest.raises(AssertionError, match="shown twice"):
        assert_each_figure_once(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_smoke_scale(path: Path, shared_store: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AUTOSCALE_SCALE", "smoke")
    monkeypatch.setenv("MPLBACKEND", INLINE)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    nb = nbformat.read(path, as_version=4)
    # Point the notebook's run store (and report folder) at test folders: the parameters cell
    # is the place a user changes them too.
    for c in nb.cells:
        if "parameters" in c.metadata.get("tags", []):
            c.source += f"\nstore = {str(shared_store)!r}"
    execute(nb, tmp_path / "notebooks")
    assert_each_figure_once(nb)
    # the matplotlib figures a notebook returns are shown as images, not as "<Figure size …>"
    if path.stem in MATPLOTLIB_FIGURES:
        assert len(images(nb)) >= MATPLOTLIB_FIGURES[path.stem], [i for i, _ in images(nb)]
    shown_as_text = [o["data"]["text/plain"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if "text/plain" in o.get("data", {}) and "image/png" not in o["data"]
                     and o["data"]["text/plain"].startswith("<Figure size")]
    assert not shown_as_text, shown_as_text
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.output_type == "stream")
    assert "1 warnings" not in text and "NaN" not in text
    if path.stem in ("00_quickstart", "05_validate"):   # the verdict, in one sentence, before anything else
        first = next(o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.output_type == "stream")
        assert first["text"].startswith("At ") and "uniform's final loss" in first["text"], first["text"]
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


@pytest.mark.skipif(not (REPO / "data" / "studies" / "small" / "runs.jsonl.xz").is_file(),
                    reason="no shipped small study")
def test_quickstart_at_the_default_scale_trains_nothing(tmp_path: Path, monkeypatch):
    """00 as a newcomer opens it on a fresh clone: the shipped `small` study, no training, and no
    bootstrap refit either (every one is in the shipped memo: `tools/ship_study.py --analysis-only`
    after editing the analysis code)."""
    monkeypatch.delenv("AUTOSCALE_SCALE", raising=False)
    monkeypatch.setenv("MPLBACKEND", INLINE)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("AUTOSCALE_CACHE", str(tmp_path / "cache"))
    nb = nbformat.read(REPO / "notebooks" / "00_quickstart.ipynb", as_version=4)
    store = tmp_path / "runs"
    for c in nb.cells:
        if "parameters" in c.metadata.get("tags", []):
            c.source += f"\nstore = {str(store)!r}"
            assert "retrain = False" in c.source
    execute(nb, tmp_path / "notebooks")
    assert_each_figure_once(nb)
    assert not store.exists(), "the notebook trained runs into the store"
    assert not list((tmp_path / "cache").glob("analysis/*.npz")), "the notebook refitted a bootstrap"
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.output_type == "stream")
    assert text.startswith("At 4M tokens, ") and "Shipped results of the 'small' study" in text
