"""Type checkers see what users see: mypy --strict and pyright (strict) run on user code in
``typing_samples/`` and must infer the types each ``# expect: T`` comment names, and report an
error on every line marked ``# error`` (and on no other line).

The checkers run as subprocesses, once each for all samples, with the project's ``src`` on
their path. Pyright needs node; the test is skipped, saying why, where it cannot run.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SAMPLES = HERE / "typing_samples"
ROOT = HERE.parents[1]
SRC = ROOT / "src"
SAMPLE_FILES = sorted(
    p for p in SAMPLES.glob("*.py") if p.name not in {"__init__.py", "conftest.py"}
)
TIMEOUT = 600

EXPECT = re.compile(r"#\s*expect:\s*(?P<type>.+?)\s*$")
ERROR = re.compile(r"#\s*error\s*$")


@dataclass(frozen=True)
class Diagnostic:
    file: str  # file name inside typing_samples/
    line: int  # 1-based
    severity: str  # "error" or "note"
    message: str


def normalise(type_text: str) -> str:
    """``sobjects.orm._expr.FieldExpr[builtins.str]`` (mypy) -> ``FieldExpr[str]`` (pyright)."""
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", type_text)


def revealed(diagnostic: Diagnostic) -> str | None:
    """The type a reveal_type() diagnostic names (both checkers' wordings)."""
    match = re.fullmatch(r'(?:Revealed type is|Type of ".*" is) "(?P<type>.*)"', diagnostic.message)
    return normalise(match["type"]) if match else None


def marked_lines(path: Path) -> tuple[dict[int, str], set[int]]:
    """(line -> expected revealed type, lines that must have an error) of a sample file."""
    expects: dict[int, str] = {}
    errors: set[int] = set()
    with path.open(encoding="utf-8") as source:
        for token in tokenize.generate_tokens(source.readline):
            if token.type != tokenize.COMMENT:  # markers in docstrings do not count
                continue
            number = token.start[0]
            if match := EXPECT.search(token.string):
                expects[number] = match["type"]
            if ERROR.search(token.string):
                errors.add(number)
    return expects, errors


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def run_mypy(tmp: Path) -> list[Diagnostic]:
    env = {**os.environ, "MYPYPATH": str(SRC)}
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--follow-imports=silent",  # report the samples, not sobjects' own modules
        "--output=json",
        f"--cache-dir={tmp / 'mypy-cache'}",
        *map(str, SAMPLE_FILES),
    ]
    result = _run(command, env=env)
    out: list[Diagnostic] = []
    for line in result.stdout.splitlines():
        item = json.loads(line)
        out.append(
            Diagnostic(Path(item["file"]).name, item["line"], item["severity"], item["message"])
        )
    assert result.returncode in (0, 1) and (out or result.returncode == 0), result.stderr
    return out


def _pyright_command() -> list[str] | None:
    local = Path(sys.executable).with_name("pyright")
    if local.exists():
        return [str(local)]
    found = shutil.which("pyright")
    return [found] if found else None


@functools.cache
def pyright_problem() -> str | None:
    """Why pyright cannot run here, or None."""
    command = _pyright_command()
    if command is None:
        return "pyright is not installed (pip install pyright)"
    try:
        result = _run([*command, "--version"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"pyright cannot start: {exc}"
    if result.returncode != 0:  # e.g. no node and no network to fetch it
        return f"pyright cannot run offline here: {(result.stderr or result.stdout).strip()[:300]}"
    return None


def run_pyright(tmp: Path) -> list[Diagnostic]:
    command = _pyright_command()
    assert command is not None
    config = tmp / "pyrightconfig.json"
    config.write_text(
        json.dumps(
            {"typeCheckingMode": "strict", "pythonVersion": "3.11", "extraPaths": [str(SRC)]}
        ),
        encoding="utf-8",
    )
    result = _run(
        [
            *command,
            "--outputjson",
            "--project",
            str(config),
            "--pythonpath",
            sys.executable,
            *map(str, SAMPLE_FILES),
        ]
    )
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    severities = {"information": "note", "error": "error", "warning": "error"}
    return [
        Diagnostic(
            Path(item["file"]).name,
            item["range"]["start"]["line"] + 1,
            severities[item["severity"]],
            item["message"],
        )
        for item in report["generalDiagnostics"]
    ]


@pytest.fixture(scope="module", params=["mypy", "pyright"])
def checked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[Diagnostic]:
    """Every diagnostic of one checker over all the samples (one run per checker)."""
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "pyright":
        problem = pyright_problem()
        if problem:
            pytest.skip(problem)
        return run_pyright(tmp)
    return run_mypy(tmp)


def errors_in(diagnostics: list[Diagnostic], name: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for d in diagnostics:
        if d.file == name and d.severity == "error":
            found.setdefault(d.line, []).append(d.message)
    return found


@pytest.mark.parametrize("name", ["models.py", "queries.py", "sync.py"])
def test_user_code_type_checks_with_the_expected_types(
    checked: list[Diagnostic], name: str
) -> None:
    assert errors_in(checked, name) == {}
    expects, _ = marked_lines(SAMPLES / name)
    reveals = {d.line: revealed(d) for d in checked if d.file == name and revealed(d)}
    assert reveals == expects


def test_the_checkers_really_check(checked: list[Diagnostic]) -> None:
    _, wanted = marked_lines(SAMPLES / "errors.py")
    assert len(wanted) >= 10
    found = errors_in(checked, "errors.py")
    assert set(found) == wanted, found


def test_constructor_arguments_are_checked(checked: list[Diagnostic]) -> None:
    _, wanted = marked_lines(SAMPLES / "constructor.py")
    assert set(errors_in(checked, "constructor.py")) == wanted
