"""The prepared device check runs on a machine without a GPU (its CPU path) and writes its JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["environment"]["cuda"] is False
    assert any("no GPU here" in s for s in result["skipped"])
    assert [row["preset"] for row in result["throughput"]] == ["tiny"]
    assert all(row["proxy_tokens_per_s"] > 0 and row["plain_tokens_per_s"] > 0 for row in result["throughput"])
    assert [row["processes"] for row in result["sharing"]] == [1, 2]
    assert result["smoke_study"]["run_devices"] == ["cpu"] and result["smoke_study"]["runs_trained"] > 0
