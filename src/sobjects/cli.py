"""The ``sobjects`` command line.

``sobjects emulator [--port N] [--data PATH] [--latency-ms N] [--schema SRC]... [--seed
FILE]... [--log-requests [PATH|-]]`` serves a local org on 127.0.0.1 and prints its base
URL, an access token and the admin token its ``/__emulator__`` controls take. ``sobjects
demo`` runs the end-to-end walkthrough on an in-process org. ``sobjects generate
(--describe DIR | --org BASE_URL) --objects Account,Contact --out DIR [--check]`` writes
typed models from describe metadata (or, with ``--check``, reports how the models on disk
drifted from it).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.util
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any

import anyio

__all__ = ["main"]

# What each command imports from the emulator extra (pyproject.toml): the demo also draws.
_NEEDS = {"emulator": ("starlette", "uvicorn", "lark"), "demo": ("starlette", "lark", "rich")}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sobjects",
        description="sobjects: a typed, async Salesforce ORM. Serve a local Salesforce-"
        "compatible org, run the demo, or generate typed models from describe metadata.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    emulator = commands.add_parser(
        "emulator", help="serve a local Salesforce-compatible org on 127.0.0.1"
    )
    emulator.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    emulator.add_argument(
        "--data", default=None, help="SQLite data file: writes survive restarts and kill -9"
    )
    emulator.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="added to every request (milliseconds, up to 60000)",
    )
    emulator.add_argument("--api-limit", type=int, default=None, help="daily API request allowance")
    emulator.add_argument(
        "--schema",
        action="append",
        default=[],
        metavar="SRC",
        help="define sObjects from a describe JSON file, a directory of them, or a Python "
        "module of SObject models (mypkg.models); repeatable",
    )
    emulator.add_argument(
        "--seed",
        action="append",
        default=[],
        metavar="FILE",
        help="insert records from a JSON or CSV (<SObject>.csv) file on start; repeatable",
    )
    emulator.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="a user the token endpoint's password flow accepts (then only these); repeatable",
    )
    emulator.add_argument(
        "--app",
        action="append",
        default=[],
        metavar="CLIENT_ID:SECRET",
        help="a connected app the token endpoint accepts (then only these); repeatable",
    )
    emulator.add_argument(
        "--check",
        default=None,
        metavar="CASSETTE",
        help="send a recorded cassette's requests to an in-process local org (with --schema "
        "and --seed) and report where its answers differ; serves nothing",
    )
    emulator.add_argument(
        "--log-requests",
        nargs="?",
        const="-",
        default=None,
        metavar="PATH|-",
        help="append one JSON line per request (no bodies) to PATH, or stdout with - (default)",
    )
    commands.add_parser("demo", help="run the end-to-end demo on an in-process local org")
    from sobjects.codegen._command import add_arguments

    generate = commands.add_parser(
        "generate", help="write typed SObject models from describe metadata (or --check them)"
    )
    add_arguments(generate)
    return parser


def _missing_extra(command: str) -> bool:
    """Say in one line what to install when the emulator extra is missing (a traceback
    ending in ModuleNotFoundError says it in thirty)."""
    missing = [name for name in _NEEDS[command] if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"sobjects {command}: needs the emulator extra (missing: {', '.join(missing)}); "
            "install it with: pip install 'sobjects[emulator]'",
            file=sys.stderr,
        )
    return bool(missing)


def _port_in_use(port: int) -> bool:
    """Whether 127.0.0.1:``port`` already has a listener (checked as the server binds, with
    SO_REUSEADDR, so a port in TIME_WAIT still counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in _NEEDS and _missing_extra(args.command):
        return 2
    if args.command == "emulator":
        if args.check is not None:
            from sobjects.testing.check import run_check

            return run_check(args.check, schema=args.schema, seed=args.seed)
        if not 0 <= args.port <= 65535:
            print("sobjects emulator: --port must be 0..65535", file=sys.stderr)
            return 2
        if not 0 <= args.latency_ms <= 60_000:  # also refuses nan
            print("sobjects emulator: --latency-ms must be 0..60000", file=sys.stderr)
            return 2
        if args.api_limit is not None and args.api_limit < 0:
            print("sobjects emulator: --api-limit must be >= 0", file=sys.stderr)
            return 2
        for option, values in (("--user", args.user), ("--app", args.app)):
            for value in values:
                name, colon, secret = value.partition(":")
                if not (name and colon and secret):
                    print(
                        f"sobjects emulator: {option} takes NAME:SECRET, got {value!r}",
                        file=sys.stderr,
                    )
                    return 2
        if args.port and _port_in_use(args.port):
            print(
                f"sobjects emulator: port {args.port} is already in use on 127.0.0.1; "
                "choose another with --port, or --port 0 for a free one",
                file=sys.stderr,
            )
            return 1
        from sobjects.emulator._shape import ShapeError
        from sobjects.emulator._store import JournalInUse, UnusableJournal

        try:
            _emulator(args)
        except ShapeError as exc:
            print(f"sobjects emulator: {exc}", file=sys.stderr)
            return 2
        except UnusableJournal as exc:
            print(f"sobjects emulator: --data: {exc}", file=sys.stderr)
            return 2
        except JournalInUse as exc:
            print(f"sobjects emulator: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:  # e.g. a data file it may not read or write
            print(f"sobjects emulator: {exc}", file=sys.stderr)
            return 1
        except RuntimeError as exc:  # the server did not start (a port taken meanwhile)
            print(f"sobjects emulator: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "demo":
        from sobjects._demo import run_demo

        anyio.run(run_demo)
        return 0
    if args.command == "generate":
        from sobjects.codegen._command import run

        return run(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _emulator(args: argparse.Namespace) -> None:
    from sobjects.emulator import LocalOrg
    from sobjects.emulator._org import DEFAULT_DAILY_API_LIMIT
    from sobjects.emulator._shape import ShapeError, load_schema, seed

    data: str | None = args.data
    limit = DEFAULT_DAILY_API_LIMIT if args.api_limit is None else args.api_limit
    # A data file that already holds writes was seeded when it was new: seeding again on every
    # restart would duplicate the records.
    journal_used = data is not None and os.path.isfile(data) and os.path.getsize(data) > 0
    # Closed only once serve() has stopped the server: every write it acknowledged is on disk.
    with LocalOrg(data=data, daily_api_limit=limit) as org, contextlib.ExitStack() as stack:
        org.faults.latency = args.latency_ms / 1000
        for value in args.user:
            org.add_user(*value.split(":", 1))
        for value in args.app:
            org.add_connected_app(*value.split(":", 1))
        notes = [f"schema: {load_schema(org, source)}" for source in args.schema]
        refs: dict[str, str] = {}  # @ref names, shared by the seed files in order
        if journal_used and args.seed:
            notes.append("seed: skipped (the data file already holds data)")
        else:
            notes += [f"seed: {path}: {seed(org, path, refs)} record(s)" for path in args.seed]
        if args.log_requests is not None:
            from sobjects.emulator._request_log import RequestLog

            out = sys.stdout
            if args.log_requests != "-":
                try:
                    out = stack.enter_context(open(args.log_requests, "a", encoding="utf-8"))
                except OSError as exc:
                    raise ShapeError(f"--log-requests {args.log_requests}: {exc}") from None
            org.app = RequestLog(org, org.app, out)  # type: ignore[assignment]
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how the server stops
            anyio.run(_serve, org, args.port, data, notes)


async def _serve(org: Any, port: int, data: str | None, notes: list[str]) -> None:
    async with org.serve(port) as base_url:
        print(f"base_url: {base_url}", flush=True)
        print(f"access_token: {org.access_token}", flush=True)
        print(f"admin_token: {org.admin_token}", flush=True)  # for /__emulator__/*
        if data:
            print(f"data: {data}", flush=True)
        for note in notes:
            print(note, flush=True)
        print("Press Ctrl+C to stop.", flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
