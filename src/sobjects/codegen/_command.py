"""``sobjects generate``: the command line around ``generate`` and the drift check.

``--describe DIR`` reads ``DIR/<Name>.json`` describe files; ``--org BASE_URL`` fetches the
describes from a running org (a bearer token from ``--token`` or ``SOBJECTS_ACCESS_TOKEN``).
The models go to ``--out DIR`` and the describes they were generated from to ``--snapshots``
(default ``<out>/_describe``), so that ``--check`` can later say what changed. ``--check``
writes nothing: it regenerates in memory, prints what changed and exits 1 on any drift.

Writing never overwrites a module in ``--out`` that ``sobjects generate`` did not write (its
first line is not ``HEADER``) unless ``--force`` is given, and removes only generated modules
that are no longer generated, and, in the default snapshot folder, the snapshots of sObjects
no longer generated. Problems with the inputs or the files (unreadable, not UTF-8, not a
describe) exit 2 with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio

from sobjects.codegen._drift import (
    UnreadableFileError,
    describe_changes,
    generated_files,
    is_generated,
    source_changes,
)
from sobjects.codegen._generate import HEADER, generate

__all__ = ["TOKEN_ENV", "add_arguments", "fetch_describes", "run", "snapshot_text"]

TOKEN_ENV = "SOBJECTS_ACCESS_TOKEN"


class UsageError(Exception):
    """A problem with the command line or its inputs (exit status 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--describe", metavar="DIR", help="read describes from DIR/<Name>.json files"
    )
    source.add_argument(
        "--org", metavar="BASE_URL", help="fetch describes from a running org (instance URL)"
    )
    parser.add_argument(
        "--objects",
        metavar="NAMES",
        help="comma-separated sObject API names (default with --describe: every DIR/*.json)",
    )
    parser.add_argument(
        "--out", metavar="DIR", required=True, help="the package to write (one module per sObject)"
    )
    parser.add_argument(
        "--snapshots",
        metavar="DIR",
        help="where the describes the models come from are kept (default: <out>/_describe)",
    )
    parser.add_argument(
        "--token", help=f"access token for --org (default: the {TOKEN_ENV} environment variable)"
    )
    parser.add_argument("--api-version", help="API version for --org (default: the client's)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and print what changed if the models are not up to date",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite modules in --out that sobjects generate did not write",
    )


def snapshot_text(describe: Mapping[str, Any]) -> str:
    """A describe as kept on disk: sorted keys (stable diffs), fields in describe order."""
    return json.dumps(describe, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _object_names(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    names = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names:
        raise UsageError("--objects names no sObject")
    return names


def _read_describe(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise UsageError(f"{path} is not an sObject describe (no name)")
    return data


def _load_describes(directory: Path, names: list[str] | None) -> dict[str, dict[str, Any]]:
    if not directory.is_dir():
        raise UsageError(f"--describe {directory}: not a directory")
    available = {path.stem.lower(): path for path in sorted(directory.glob("*.json"))}
    if names is None:
        paths = list(available.values())
        if not paths:
            raise UsageError(f"--describe {directory}: no <Name>.json describe files")
    else:
        missing = [name for name in names if name.lower() not in available]
        if missing:
            raise UsageError(
                f"--describe {directory}: no describe for {', '.join(missing)} "
                f"(expected {', '.join(name + '.json' for name in missing)})"
            )
        paths = [available[name.lower()] for name in names]
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        describe = _read_describe(path)
        out[describe["name"]] = describe
    return out


async def fetch_describes(
    base_url: str, token: str, names: Sequence[str], api_version: str | None = None
) -> dict[str, dict[str, Any]]:
    """Describes of ``names`` from the org at ``base_url``, by their canonical names."""
    from sobjects.auth import StaticToken
    from sobjects.client import Salesforce

    options: dict[str, Any] = {"version": api_version} if api_version else {}
    out: dict[str, dict[str, Any]] = {}
    async with Salesforce(base_url, auth=StaticToken(token), **options) as sf:
        for name in names:
            describe = await sf.describe(name)
            out[str(describe["name"])] = describe
    return out


def _load_snapshots(directory: Path, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        path = directory / f"{name}.json"
        if path.is_file():
            out[name] = _read_describe(path)
    return out


def _stale_snapshots(directory: Path, names: Collection[str]) -> list[Path]:
    """Snapshots in ``directory`` of sObjects not in ``names``: ``<Name>.json`` files holding
    the describe of ``Name``. Anything else there is left alone."""
    if not directory.is_dir():
        return []
    keep = {name.lower() for name in names}
    stale = []
    for path in sorted(directory.glob("*.json")):
        if path.stem.lower() in keep or not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("name") == path.stem:
            stale.append(path)
    return stale


def _write(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already holds it; whether it was written."""
    if _holds(path, text):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def _holds(path: Path, text: str) -> bool:
    """Whether ``path`` holds ``text``. A file that is not UTF-8 text does not: it is written
    over (only generated modules and snapshots are), or the write says why it cannot be."""
    try:
        return path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def _not_generated(out_dir: Path, files: Mapping[str, str]) -> list[Path]:
    """The files ``files`` would overwrite that ``sobjects generate`` did not write."""
    paths = (out_dir / name for name in files)
    return [path for path in paths if path.exists() and not is_generated(path)]


def _same_dir(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and a.resolve() == b.resolve()


def _check(
    out_dir: Path,
    snapshot_dir: Path,
    describes: Mapping[str, Mapping[str, Any]],
    files: Mapping[str, str],
    stdout: TextIO,
) -> int:
    old = _load_snapshots(snapshot_dir, list(describes))
    # Without a snapshot there is nothing to compare with: only the source is checked.
    unsnapshotted = [name for name in describes if name not in old]
    semantic = describe_changes(old, {name: describes[name] for name in old})
    source = source_changes(out_dir, files)
    if not semantic and not source:
        print(f"{out_dir}: {len(describes)} models match the describe metadata", file=stdout)
        return 0
    print(f"{out_dir}: the models do not match the describe metadata", file=stdout)
    if semantic:
        print(f"\nChanges since the snapshots in {snapshot_dir}:", file=stdout)
        for line in semantic:
            print(f"  {line}", file=stdout)
    if unsnapshotted:
        print(
            f"\nNo snapshot in {snapshot_dir} for {', '.join(unsnapshotted)}: "
            "only the generated source is compared.",
            file=stdout,
        )
    if source:
        print("\nGenerated source differs:", file=stdout)
        for line in source.summary:
            print(f"  {line}", file=stdout)
        print("", file=stdout)
        stdout.writelines(line if line.endswith("\n") else line + "\n" for line in source.diff)
    else:
        print("\nThe generated source is unchanged; the snapshots are out of date.", file=stdout)
    print("\nRun the same command without --check to update them.", file=stdout)
    return 1


def _write_all(
    out_dir: Path,
    snapshot_dir: Path,
    source_dir: Path | None,
    describes: Mapping[str, Mapping[str, Any]],
    files: Mapping[str, str],
    stdout: TextIO,
    force: bool = False,
) -> None:
    foreign = _not_generated(out_dir, files)
    if foreign and not force:
        listed = ", ".join(str(path) for path in foreign)
        it = "it" if len(foreign) == 1 else "them"
        raise UsageError(
            f"will not overwrite {listed}: not written by sobjects generate (the first line is "
            f"not {HEADER!r}); move {it} away, or pass --force to overwrite {it}"
        )
    stale = [path for path in generated_files(out_dir) if path.name not in files]
    update_snapshots = source_dir is None or not _same_dir(source_dir, snapshot_dir)
    # Only the default snapshot folder belongs to --out: another may serve other packages.
    stale_snapshots = (
        _stale_snapshots(snapshot_dir, describes)
        if update_snapshots and snapshot_dir == out_dir / "_describe"
        else []
    )
    written = [name for name, text in files.items() if _write(out_dir / name, text)]
    for path in stale:
        path.unlink()
    snapshots = 0
    if update_snapshots:
        for name, describe in describes.items():
            snapshots += _write(snapshot_dir / f"{name}.json", snapshot_text(describe))
    for path in stale_snapshots:
        path.unlink()
    for name in written:
        print(f"wrote {out_dir / name}", file=stdout)
    for path in [*stale, *stale_snapshots]:
        print(f"removed {path} (no longer generated)", file=stdout)
    print(
        f"{len(describes)} models in {out_dir}: {len(written)} files written, "
        f"{len(stale)} removed, {snapshots} snapshots updated in {snapshot_dir}"
        + (f" ({len(stale_snapshots)} removed)" if stale_snapshots else ""),
        file=stdout,
    )


def run(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    """Run ``sobjects generate``; the exit status."""
    out = stdout or sys.stdout
    try:
        names = _object_names(args.objects)
        if args.describe is not None:
            source_dir: Path | None = Path(args.describe)
            describes = _load_describes(Path(args.describe), names)
        else:
            source_dir = None
            token = args.token or os.environ.get(TOKEN_ENV)
            if not token:
                raise UsageError(f"--org needs --token or the {TOKEN_ENV} environment variable")
            if names is None:
                raise UsageError("--org needs --objects (which sObjects to generate)")
            describes = _fetch(args.org, token, names, args.api_version)
        out_dir = Path(args.out)
        snapshot_dir = Path(args.snapshots) if args.snapshots else out_dir / "_describe"
        files = generate(describes.values())
        if args.check:
            return _check(out_dir, snapshot_dir, describes, files, out)
        _write_all(out_dir, snapshot_dir, source_dir, describes, files, out, force=bool(args.force))
        return 0
    except (UsageError, UnreadableFileError, OSError, UnicodeDecodeError) as exc:
        # OSError: a file that cannot be written or read (its message names the file).
        print(f"sobjects generate: {exc}", file=sys.stderr)
        return 2
    except _FetchError as exc:
        print(f"sobjects generate: {exc}", file=sys.stderr)
        return 1


class _FetchError(Exception):
    pass


def _fetch(
    base_url: str, token: str, names: Sequence[str], api_version: str | None
) -> dict[str, dict[str, Any]]:
    from sobjects.errors import SalesforceError

    try:
        return anyio.run(fetch_describes, base_url, token, names, api_version)
    except SalesforceError as exc:
        raise _FetchError(f"cannot fetch describes from {base_url}: {exc}") from None
