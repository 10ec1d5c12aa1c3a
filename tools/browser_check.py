"""Open the notebooks in a real browser and check that widgets and plots render.

Starts JupyterLab headless on localhost, opens each notebook in Debian's Chromium driven by
Playwright (no browser download: the system /usr/bin/chromium), dismisses JupyterLab's news
prompt, waits until the notebook's kernel is started and idle (asked of the server, not read off
the page), runs all cells from the Run menu, waits for them, and saves screenshots: where the
notebook ends (its last cell scrolled into view), at its first widget or plotly figure, at its
top, and each image output on its own (`<notebook>_figure<i>.png`).
Notebooks run at AUTOSCALE_SCALE=smoke, except those named by --default-scale, which open as a
user opens them (the shipped results). Fails when a notebook shows an error (an error output or a
traceback on stderr), leaves a cell unrun, shows the same image twice, shows fewer widgets or
plotly figures than it should, or shows a plotly figure with empty axes (no trace with data, or
nothing drawn in its plot area).

Needs: `apt-get install chromium` and `pip install playwright` (the Python package only; its
browser download is not used).

    python tools/browser_check.py [--out reports/browser] [--notebooks 01_domains,07_oracle_lab]
                                  [--default-scale 00_quickstart,05_validate]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# What each notebook must show once run: ipywidgets views and/or plotly figures.
EXPECT = {
    "00_quickstart": {"plots": 0, "widgets": 1},
    "01_domains": {"plots": 1, "widgets": 1},
    "02_proxy_training": {"plots": 2, "widgets": 1},
    "03_ddo": {"plots": 2, "widgets": 1},
    "04_autoscale": {"plots": 2, "widgets": 1},
    "05_validate": {"plots": 1, "widgets": 1},
    "06_paper_figures": {"plots": 1, "widgets": 0},
    "07_oracle_lab": {"plots": 2, "widgets": 1},
    "08_compare_methods": {"plots": 4, "widgets": 1},
    "09_landscape": {"plots": 3, "widgets": 1},
    "10_bert": {"plots": 2, "widgets": 1},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(port: int, token: str, log, workspaces: Path, scale: str | None = "smoke",
              root: Path = REPO / "notebooks") -> subprocess.Popen:
    env = {**os.environ, "TQDM_DISABLE": "1"}
    env.pop("AUTOSCALE_SCALE", None)
    env.pop("MPLBACKEND", None)          # JupyterLab's own inline backend, as a user has it
    if scale:
        env["AUTOSCALE_SCALE"] = scale
    # Render every cell (no windowing), so that outputs below the fold exist in the page; no news
    # prompt (its toast would cover the notebook).
    settings = workspaces.parent / "settings" / "@jupyterlab"
    (settings / "notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    (settings / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--ServerApp.open_browser=False", "--allow-root", f"--LabApp.workspaces_dir={workspaces}",
           f"--LabApp.user_settings_dir={workspaces.parent / 'settings'}", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
           "jupyterlab.NeverCheckForUpdate"]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("JupyterLab exited; see its log")
            time.sleep(1)
    proc.terminate()
    raise SystemExit("JupyterLab did not start within 120 s")


def kernel_ready(port: int, token: str, name: str, timeout_s: float = 120) -> str:
    """Wait until the server has a session for `name` whose kernel is idle (started, connected,
    not busy); returns the kernel's id. The page's own indicator can read idle before the kernel
    exists, and a Run All clicked then runs nothing."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/sessions?token={token}", timeout=5) as r:
                sessions = json.load(r)
            for sess in sessions:
                if Path(sess.get("path", "")).stem == name and sess.get("kernel"):
                    kid = sess["kernel"]["id"]
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernels/{kid}?token={token}",
                                                timeout=5) as r:
                        if json.load(r).get("execution_state") == "idle":
                            return kid
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"{name}: its kernel was not ready after {timeout_s:.0f} s")


# Per plotly figure on the page: how many traces carry data, and how many marks its plot area drew.
PLOT_CONTENT = """els => els.map(e => {
    const size = v => (v && typeof v.length === 'number') ? v.length : 0;
    const withData = (e.data || []).filter(t => Math.max(size(t.x), size(t.y), size(t.a), size(t.z),
                                                          size(t.values), size(t.lat)) > 0).length;
    const drawn = e.querySelectorAll('g.trace, g.hm, .ternarylayer path.point, .barlayer path').length;
    return {traces: (e.data || []).length, withData: withData, drawn: drawn,
            title: (e.layout && e.layout.title && (e.layout.title.text || e.layout.title)) || ''};
})"""


def empty_plots(page) -> list[str]:
    """The plotly figures on the page with empty axes: no trace with data, or nothing drawn."""
    found = page.eval_on_selector_all(".jp-Notebook .js-plotly-plot", PLOT_CONTENT)
    return [f"{i + 1}: {p['title'] or 'untitled'} ({p['withData']} traces with data, {p['drawn']} drawn)"
            for i, p in enumerate(found) if p["withData"] == 0 or p["drawn"] == 0]


def check_notebook(browser, port: int, token: str, name: str, out: Path, timeout_s: int) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # a workspace of its own, reset, so that only this notebook is open
    page.goto(f"http://127.0.0.1:{port}/lab/workspaces/{name}/tree/{name}.ipynb?reset&token={token}",
              wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    dialog = page.locator(".jp-Dialog button:has-text('Select')")
    try:  # a notebook without a kernelspec asks which kernel to start
        dialog.click(timeout=3000)
    except Exception:
        pass
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000, state="attached")
    kernel_ready(port, token, name)
    time.sleep(1)      # the page connects to the kernel the server reports
    dismiss_news(page)
    page.click("div.lm-MenuBar-itemLabel:text-is('Run')")
    page.click("li.lm-Menu-item:has-text('Run All Cells')")
    time.sleep(2)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        busy = page.locator(".jp-InputPrompt:has-text('[*]')").count()
        if busy == 0 and page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count():
            break
        time.sleep(1)
    else:
        raise SystemExit(f"{name}: still running after {timeout_s} s")
    time.sleep(4)  # let widget views and plotly finish drawing
    dismiss_news(page)
    stderr = page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", "els => els.map(e => e.innerText)")
    errors = sum("Traceback" in t or "Error" in t for t in stderr)
    errors += page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").count()
    prompts = page.eval_on_selector_all(".jp-CodeCell .jp-InputArea-prompt", "els => els.map(e => e.innerText)")
    unrun = sum(p.strip() in ("[ ]:", "") for p in prompts)
    empty = empty_plots(page)
    widgets = page.locator(".jp-OutputArea-output .widget-box, .jp-OutputArea-output .jupyter-widgets").count()
    plots = page.locator(".jp-Notebook .js-plotly-plot").count()
    mimes = page.eval_on_selector_all(".jp-OutputArea-output", "els => els.map(e => e.getAttribute('data-mime-type'))")
    sources = page.eval_on_selector_all(".jp-RenderedImage img", "els => els.map(e => e.src)")   # image outputs
    duplicates = len(sources) - len(set(sources))
    # the end of the notebook: its last cell in view
    page.locator(".jp-Notebook .jp-Cell").last.scroll_into_view_if_needed()
    time.sleep(1)
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    # one more view scrolled to the first interactive output, where the widgets are
    first = page.locator(".jp-OutputArea-output .jupyter-widgets, .jp-Notebook .js-plotly-plot").first
    if first.count():
        first.scroll_into_view_if_needed()
        time.sleep(1)
        page.screenshot(path=str(out / f"{name}_view.png"))
    # every image output on its own (to look at each figure as it renders)
    for i, el in enumerate(page.locator(".jp-RenderedImage").all()):
        try:
            el.scroll_into_view_if_needed()
            el.screenshot(path=str(out / f"{name}_figure{i + 1}.png"))
        except Exception:
            pass
    # and the top, where the verdict is
    page.locator(".jp-Notebook .jp-Cell").first.scroll_into_view_if_needed()
    time.sleep(1)
    page.screenshot(path=str(out / f"{name}_top.png"))
    page.close()
    return {"notebook": name, "errors": errors, "unrun_cells": unrun, "empty_plots": empty,
            "widgets": widgets, "plotly": plots, "images": len(sources),
            "duplicated_images": duplicates, "outputs": {m: mimes.count(m) for m in sorted(set(mimes), key=str)},
            "screenshot": str(path)}


def dismiss_news(page) -> None:
    """JupyterLab asks once whether to fetch its news (a toast with Yes / No): answer No."""
    for label in ("No", "Dismiss"):
        button = page.locator(f".jp-toast-button:has-text('{label}'), .Toastify button:has-text('{label}')")
        try:
            if button.count():
                button.first.click(timeout=2000)
        except Exception:
            pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "reports" / "browser"))
    ap.add_argument("--notebooks", default=",".join(EXPECT))
    ap.add_argument("--timeout", type=int, default=600, help="seconds per notebook")
    ap.add_argument("--root", default=str(REPO / "notebooks"), help="the folder of the notebooks (default: the toolkit's)")
    ap.add_argument("--default-scale", default="",
                    help="notebooks to open at their default scale, as a user does (the shipped results), "
                         "comma-separated; the rest run at the smoke scale")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian's chromium is not installed: apt-get install chromium")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.notebooks.split(",") if n]
    default = {n for n in args.default_scale.split(",") if n}
    results, failed = [], []
    for scale, group in (("smoke", [n for n in names if n not in default]), (None, [n for n in names if n in default])):
        if not group:
            continue
        port, token = _free_port(), secrets.token_hex(16)
        with open(out / f"jupyterlab-{scale or 'default'}.log", "w") as log:
            lab = start_lab(port, token, log, out / f"workspaces-{scale or 'default'}", scale, Path(args.root))
            try:
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync"])
                    for name in group:
                        r = check_notebook(browser, port, token, name, out, args.timeout)
                        want = EXPECT.get(name, {"plots": 0, "widgets": 0})
                        ok = (r["errors"] == 0 and r["duplicated_images"] == 0 and r["plotly"] >= want["plots"]
                              and r["widgets"] >= want["widgets"] and r["unrun_cells"] == 0 and not r["empty_plots"])
                        results.append({**r, "scale": scale or "default", "ok": ok})
                        print(f"{'ok  ' if ok else 'FAIL'} {name} ({scale or 'default scale'}): {r['widgets']} widget "
                              f"views, {r['plotly']} plotly figures, {r['images']} images "
                              f"({r['duplicated_images']} duplicated), {r['errors']} errors, {r['unrun_cells']} "
                              f"cells not run, empty plots: {', '.join(r['empty_plots']) or 'none'} -> {r['screenshot']}",
                              flush=True)
                        if not ok:
                            failed.append(name)
                    browser.close()
            finally:
                lab.terminate()
                lab.wait(timeout=30)
    (out / "browser_check.json").write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
