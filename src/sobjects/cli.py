"""The ``sobjects`` command line.

``sobjects emulator [--port N] [--data PATH] [--latency-ms N]`` serves a local org on
127.0.0.1 and prints its base URL, an access token and the admin token its
``/__emulator__`` controls take. ``sobjects demo`` runs the
end-to-end walkthrough on an in-process org. ``sobjects generate (--describe DIR | --org
BASE_URL) --objects Account,Contact --out DIR [--check]`` writes typed models from describe
metadata (or, with ``--check``, reports how the models on disk drifted from it).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

import anyio

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sobjects", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    emulator = commands.add_parser(
        "emulator", help="serve a local Salesforce-compatible org on 127.0.0.1"
    )
    emulator.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    emulator.add_argument(
        "--data", default=None, help="journal file: writes survive restarts and kill -9"
    )
    emulator.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="added to every request (milliseconds, up to 60000)",
    )
    emulator.add_argument("--api-limit", type=int, default=None, help="daily API request allowance")
    commands.add_parser("demo", help="run the end-to-end demo on an in-process local org")
    from sobjects.codegen._command import add_arguments

    generate = commands.add_parser(
        "generate", help="write typed SObject models from describe metadata (or --check them)"
    )
    add_arguments(generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "emulator":
        if not 0 <= args.port <= 65535:
            print("sobjects emulator: --port must be 0..65535", file=sys.stderr)
            return 2
        if not 0 <= args.latency_ms <= 60_000:  # also refuses nan
            print("sobjects emulator: --latency-ms must be 0..60000", file=sys.stderr)
            return 2
        if args.api_limit is not None and args.api_limit < 0:
            print("sobjects emulator: --api-limit must be >= 0", file=sys.stderr)
            return 2
        from sobjects.emulator._store import JournalInUse, UnusableJournal

        try:
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how the server stops
                anyio.run(_serve, args.port, args.data, args.latency_ms, args.api_limit)
        except UnusableJournal as exc:
            print(f"sobjects emulator: --data: {exc}", file=sys.stderr)
            return 2
        except JournalInUse as exc:
            print(f"sobjects emulator: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:  # e.g. a journal it may not read or write
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


async def _serve(port: int, data: str | None, latency_ms: float, api_limit: int | None) -> None:
    from sobjects.emulator import LocalOrg
    from sobjects.emulator._org import DEFAULT_DAILY_API_LIMIT

    limit = DEFAULT_DAILY_API_LIMIT if api_limit is None else api_limit
    # Closed only once serve() has stopped the server: every write it acknowledged is on disk.
    with LocalOrg(data=data, daily_api_limit=limit) as org:
        org.faults.latency = latency_ms / 1000
        async with org.serve(port) as base_url:
            print(f"base_url: {base_url}", flush=True)
            print(f"access_token: {org.access_token}", flush=True)
            print(f"admin_token: {org.admin_token}", flush=True)  # for /__emulator__/*
            if data:
                print(f"data: {data}", flush=True)
            print("Press Ctrl+C to stop.", flush=True)
            await anyio.sleep_forever()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
