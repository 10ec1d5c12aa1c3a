"""Shared fixtures: small corpora written to tmp folders, and a CLI runner."""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# the bootstrap memo of this test session, not the user's ~/.cache (shipped studies' memos are still read)
os.environ["AUTOSCALE_CACHE"] = tempfile.mkdtemp(prefix="autoscale-kit-tests-")
atexit.register(shutil.rmtree, os.environ["AUTOSCALE_CACHE"], ignore_errors=True)
# token stores built on first use go to this session's folder, not the user's cache
os.environ["AUTOSCALE_STORES"] = tempfile.mkdtemp(prefix="autoscale-kit-stores-")
atexit.register(shutil.rmtree, os.environ["AUTOSCALE_STORES"], ignore_errors=True)


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def run_cli():
    """Run `autoscale-kit ARGS…` in-process; returns exit code, stdout and stderr."""
    from autoscale_kit.cli.main import main

    def run(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main([str(a) for a in args])
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


def words_text(seed: int, n_chars: int, vocab: str) -> str:
    """Deterministic pseudo-text of about n_chars characters drawn from a word list."""
    import random

    rng = random.Random(seed)
    words = vocab.split()
    out, length = [], 0
    while length < n_chars:
        w = rng.choice(words)
        out.append(w)
        length += len(w) + 1
    return " ".join(out)


@pytest.fixture
def domain_folder(tmp_path: Path) -> Path:
    """Three domains: a subfolder of .txt files, a .jsonl file, and an .xz text file."""
    import json
    import lzma

    root = tmp_path / "mydata"
    (root / "prose").mkdir(parents=True)
    for i in range(3):
        (root / "prose" / f"doc{i}.txt").write_text(words_text(i, 30_000, "the cat sat on a mat and looked at it"))
    with open(root / "code.jsonl", "w") as f:
        for i in range(8):
            f.write(json.dumps({"text": words_text(100 + i, 9_000, "def return if else for in x y = ( ) :")}) + "\n")
    with lzma.open(root / "maths.txt.xz", "wt", encoding="utf-8") as f:
        f.write(words_text(7, 60_000, "let x be a prime then x^2 + 1 is even or odd"))
    return root


@pytest.fixture(scope="session")
def known_corpus():
    """'pattern' is perfectly predictable; 'noise' is uniform over 16 letters (entropy ln 16)."""
    import random

    from autoscale_kit.data import corpus as corpus_mod

    rng = random.Random(0)
    pattern = [("p", "abcd" * 30_000)]
    noise = [("n", "".join(rng.choice("abcdefghijklmnop") for _ in range(120_000)))]
    return corpus_mod.from_documents("known", {"pattern": pattern, "noise": noise})
