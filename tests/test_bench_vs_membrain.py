"""`benchmarks/bench_vs_membrain.py --quick` runs (ours only, small inputs) and prints the table with numbers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_vs_membrain.py"


def test_quick_mode_prints_our_rows(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--threads", "1", "--work", str(tmp_path / "work"),
         "--membrain-python", str(tmp_path / "missing" / "python")],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "| stage | membrain v2 | cryomem | ratio |" in out
    number = r"\d+(\.\d+)?"
    for stage in ("segmentation, no TTA", "surfaces (all membranes)", "geodesic NN, k=1", "Ripley L, 50 bins"):
        row = next((line for line in out.splitlines() if line.startswith(f"| {stage}")), None)
        assert row is not None, f"no row for {stage!r} in:\n{out}"
        ours = row.split("|")[3]
        assert re.search(number + " s", ours), row
    assert re.search(r"NN1 mean ours: " + number + " nm", out)
    assert "vertices in" in out
