"""The documentation site builds: ``mkdocs build --strict`` (what ``make docs`` runs) passes.

Strict mode turns every warning into a failure: a page missing from the nav's files, a broken
link or anchor, a docstring mkdocstrings cannot render, an unresolvable cross-reference. The
build goes to a temporary directory, so ``site/`` is left alone.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


def _missing() -> list[str]:
    missing = []
    for name in REQUIRED:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # the parent package of a dotted name is missing
            found = False
        if not found:
            missing.append(name)
    return missing


pytestmark = pytest.mark.skipif(
    bool(_missing()),
    reason=f"the docs extra is not installed (missing {', '.join(_missing())}); "
    "pip install -e '.[docs]' (make installs it with .[dev])",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's end-of-life banner
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = build.stdout + build.stderr
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert "WARNING" not in output, output
    return site_dir


def test_every_page_of_the_nav_is_built(site: Path) -> None:
    pages = ["", "models/", "queries/", "sessions/", "client/", "local-org/", "decisions/"]
    modules = ["", "fields/", "auth/", "errors/", "client/", "emulator/", "orm/"]
    for page in [*pages, *(f"reference/{module}" for module in modules)]:
        assert (site / page / "index.html").is_file(), page


def test_the_api_reference_is_rendered_from_the_docstrings(site: Path) -> None:
    reference = site / "reference"
    top = (reference / "index.html").read_text(encoding="utf-8")
    assert 'id="sobjects.Session"' in top and 'id="sobjects.Salesforce"' in top
    orm = (reference / "orm" / "index.html").read_text(encoding="utf-8")
    assert 'id="sobjects.orm.Select"' in orm
    assert 'id="sobjects.orm.Session"' not in orm  # documented once, on the sobjects page
    emulator = (reference / "emulator" / "index.html").read_text(encoding="utf-8")
    assert 'id="sobjects.emulator.LocalOrg"' in emulator
    # Doctests are fenced code, not Markdown blockquotes: docs/reference/_markdown_docstrings.py.
    for page in reference.rglob("*.html"):
        assert "<blockquote>" not in page.read_text(encoding="utf-8"), page
