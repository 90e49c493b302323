"""``make bench`` still runs: ``bench/run.py --quick`` end to end (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"
SECTIONS = [
    "## 1. Reads, narrow",
    "## 2. Reads, wide",
    "## 3. Field reads after loading",
    "## 4. Writes",
    "## 5. Memory",
    "## 6. Round trips",
    "## 7. Linear",
    "## 8. Local org (in-process emulator)",
    "## 9. Local org store (SQLite, --data)",
    "## 10. Bulk API 2.0",
    "## Summary",
]


@pytest.mark.skipif(not BENCH.exists(), reason="bench/ is not part of an installed package")
def test_quick_bench_runs_every_section() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    missing = [section for section in SECTIONS if section not in done.stdout]
    assert not missing, f"sections not printed: {missing}\n{done.stdout[-3000:]}"
    assert "| met?" in done.stdout  # the summary table
