"""The first run's command-line errors: one line saying what to do, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from sobjects.cli import _parser, main


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ.copy(),
    )


@pytest.mark.parametrize(
    ("command", "blocked"),
    [("emulator", "starlette"), ("emulator", "uvicorn"), ("demo", "lark"), ("demo", "rich")],
)
def test_without_the_emulator_extra_one_line_says_what_to_install(
    command: str, blocked: str
) -> None:
    # The module is made unimportable as if it were not installed (None in sys.modules).
    done = run_python(
        f"import sys; sys.modules[{blocked!r}] = None\n"
        f"from sobjects.cli import main; sys.exit(main([{command!r}]))"
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"sobjects {command}: needs the emulator extra (missing: {blocked}); "
        "install it with: pip install 'sobjects[emulator]'\n"
    )


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "sobjects.cli", "emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"sobjects emulator: port {port} is already in use on 127.0.0.1; "
        "choose another with --port, or --port 0 for a free one\n"
    )


def test_a_server_that_does_not_start_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Should the port be taken between the check and the bind, serve() raises."""
    import sobjects.cli

    def fail(args: object) -> None:
        raise RuntimeError("the local org could not start on 127.0.0.1:8080")

    monkeypatch.setattr(sobjects.cli, "_emulator", fail)
    assert main(["emulator"]) == 1
    assert capsys.readouterr().err == (
        "sobjects emulator: the local org could not start on 127.0.0.1:8080\n"
    )


@pytest.mark.parametrize("command", [None, "emulator", "demo", "generate"])
def test_help_has_no_restructuredtext_markup(command: str | None) -> None:
    parser = _parser()
    if command is not None:
        actions = [a for a in parser._actions if a.dest == "command"]
        parser = actions[0].choices[command]  # type: ignore[index]
    text = parser.format_help()
    for markup in ("``", ":func:", ":class:", ":meth:", ".. ", "**"):
        assert markup not in text, (markup, text)
