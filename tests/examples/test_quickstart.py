"""examples/quickstart.py runs as is, and docs/quickstart.md shows it and what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.test_docs import python_blocks

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "quickstart.py"
PAGE = ROOT / "docs" / "quickstart.md"


def shown_output(page: str) -> str:
    """The page's ```text block: what the page says the script prints."""
    start = page.index("```text\n") + len("```text\n")
    return page[start : page.index("```", start)]


def test_the_page_shows_the_script_as_it_is() -> None:
    first = python_blocks(PAGE.read_text(encoding="utf-8"))[0]
    assert first.source == SCRIPT.read_text(encoding="utf-8")


def test_the_script_runs_and_prints_what_the_page_says() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT / "examples",  # as a reader would run it: not from the repository root
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == shown_output(PAGE.read_text(encoding="utf-8"))
