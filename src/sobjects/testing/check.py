"""``sobjects emulator --check CASSETTE``: where the local org answers differently from the
real org a cassette was recorded against.

Each recorded request is sent, in order, to an in-process local org (its body as it was
sent: JSON as JSON, a Bulk API CSV upload as CSV with its Content-Type), and its answer
compared with the recorded one: the status, the error codes, the shape of the JSON (keys and
value types, not values: the data differ), and the few values that tell how a request went
rather than what the data are (a result's ``success``, a Composite subrequest's status, a
finished Bulk API job's ``state`` and ``numberRecordsFailed``). Record ids the real org
handed out are mapped to the local org's as they appear, so a later request for a created
record asks for the local one. Before a poll whose recorded answer shows a finished Bulk API
job, the check waits for the local job to finish too (up to 30 s), as the recording client
did. Authentication requests are skipped: the local org's tokens are its own.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from sobjects.testing.cassette import TOKEN_PATH, Cassette, CassetteError, Interaction

if TYPE_CHECKING:
    from sobjects.client import Salesforce
    from sobjects.emulator import LocalOrg

__all__ = ["Finding", "check_cassette", "run_check"]

_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_SHOWN = 5  # shape differences listed per request
# A Bulk API job's own resource (a poll of its state).
_BULK_JOB = re.compile(r"/jobs/(?:ingest|query)/([a-zA-Z0-9]{15,18})/?$")
_FINISHED = frozenset({"JobComplete", "Failed", "Aborted"})
# Values that say how a request went, not what the data are. ``statusCode`` counts only as a
# number (Composite batch); as text it is Collections' error code, compared with those.
_OUTCOMES = ("success", "httpStatusCode", "statusCode")


@dataclass
class Finding:
    """How the local org answered one recorded request."""

    number: int
    interaction: Interaction
    skipped: str | None = None
    status: tuple[int, int] | None = None  # (recorded, local) when they differ
    error_codes: tuple[list[str], list[str]] | None = None  # the same
    shape: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)  # outcomes (see the module) that differ

    @property
    def same(self) -> bool:
        return self.skipped is None and not (
            self.status or self.error_codes or self.shape or self.values
        )

    def lines(self) -> list[str]:
        item = self.interaction
        head = f"{self.number:>4} {item.method} {item.path[:160]}"
        if self.skipped:
            return [f"{head}: skipped ({self.skipped})"]
        if self.same:
            return [f"{head}: same"]
        out = [f"{head}: differs"]
        if self.status:
            out.append(f"       status: recorded {self.status[0]}, local org {self.status[1]}")
        if self.error_codes:
            recorded, local = self.error_codes
            out.append(f"       error codes: recorded {recorded}, local org {local}")
        out += [f"       value: {line}" for line in self.values]
        shown = self.shape[:_SHOWN]
        out += [f"       shape: {line}" for line in shown]
        if len(self.shape) > _SHOWN:
            out.append(f"       shape: ... and {len(self.shape) - _SHOWN} more")
        return out


async def check_cassette(cassette: Cassette, org: LocalOrg) -> list[Finding]:
    """Send every recorded request to ``org`` and compare the answers (see the module)."""
    from sobjects.client import RetryPolicy

    ids: dict[str, str] = {}  # the real org's record ids -> the local org's
    findings: list[Finding] = []
    sf: Salesforce
    async with org.client(retry=RetryPolicy(max_attempts=1)) as sf:
        for number, item in enumerate(cassette.interactions, 1):
            finding = Finding(number, item)
            findings.append(finding)
            if item.path.startswith(TOKEN_PATH) or item.path.startswith("/services/oauth2/"):
                finding.skipped = "authentication: the local org's tokens are its own"
                continue
            if isinstance(item.body, dict) and set(item.body) == {"form"}:
                finding.skipped = "a form body: not a REST request"
                continue
            path = _mapped(item.path, ids)
            await _wait_for_finished_job(org, path, item)
            response = await sf._request(
                item.method, path, **_sent_body(item, ids), raise_for_status=False
            )
            local = _body(response.content)
            _learn_ids(item.response_body, local, ids)
            if response.status_code != item.status:
                finding.status = (item.status, response.status_code)
            recorded_codes, local_codes = _error_codes(item.response_body), _error_codes(local)
            if recorded_codes != local_codes:
                finding.error_codes = (recorded_codes, local_codes)
            finding.shape = _shape_differences(item.response_body, local, "$")
            finding.values = _outcome_differences(item.response_body, local, "$")
    return findings


def _sent_body(item: Interaction, ids: dict[str, str]) -> dict[str, Any]:
    """The keyword arguments that send ``item``'s body as it was sent: JSON as JSON, text
    (a Bulk API CSV upload) as text under its recorded Content-Type."""
    headers = dict(item.request_headers)
    kind = next((headers.pop(k) for k in list(headers) if k.lower() == "content-type"), None)
    body = _mapped_value(item.body, ids)
    if body is None:
        return {"headers": headers or None}
    if kind is None or "json" in kind:
        return {"json": body, "headers": headers or None}
    text = body if isinstance(body, str) else json.dumps(body)
    return {"content": text.encode(), "headers": {**headers, "Content-Type": kind}}


async def _wait_for_finished_job(org: LocalOrg, path: str, item: Interaction) -> None:
    """Before a poll whose recorded answer shows a finished Bulk API job, let the local
    job finish too: the recording client polled until it had."""
    found = _BULK_JOB.search(path.split("?")[0])
    recorded = item.response_body
    if item.method != "GET" or not found or not isinstance(recorded, dict):
        return
    if recorded.get("state") not in _FINISHED:
        return
    import anyio.to_thread

    # An unknown or stuck job: its answer says so, and the report shows it.
    with contextlib.suppress(KeyError, TimeoutError):
        await anyio.to_thread.run_sync(org.bulk.wait, found[1])


def run_check(
    path: str, *, schema: Sequence[str] = (), seed: Sequence[str] = (), out: TextIO | None = None
) -> int:
    """The command: prints the report; 0 when every request got the same kind of answer,
    1 when some differ, 2 when the cassette cannot be read."""
    import anyio

    from sobjects.emulator import LocalOrg
    from sobjects.emulator._shape import load_schema
    from sobjects.emulator._shape import seed as seed_file

    out = out or sys.stdout
    try:
        cassette = Cassette.load(path)
    except CassetteError as exc:
        print(f"sobjects emulator --check: {exc}", file=sys.stderr)
        return 2
    with LocalOrg() as org:
        for source in schema:
            load_schema(org, source)
        refs: dict[str, str] = {}
        for file in seed:
            seed_file(org, file, refs)
        findings = anyio.run(check_cassette, cassette, org)
    print(f"{path}: {len(findings)} recorded request(s) sent to the local org", file=out)
    for finding in findings:
        for line in finding.lines():
            print(line, file=out)
    same = sum(f.same for f in findings)
    skipped = sum(f.skipped is not None for f in findings)
    differ = len(findings) - same - skipped
    print(f"{same} same, {differ} differ, {skipped} skipped", file=out)
    return 1 if differ else 0


# -- comparing -----------------------------------------------------------------------------------


def _body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", errors="replace")


def _error_codes(body: Any) -> list[str]:
    """Every ``errorCode`` (and ``statusCode``, Collections' spelling) in the body, in order."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key in ("errorCode", "statusCode"):
                code = value.get(key)
                if isinstance(code, str):
                    found.append(code)
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(body)
    return found


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _shape_differences(recorded: Any, local: Any, where: str) -> list[str]:
    """Keys and value types that differ; values and list lengths do not count (the data
    differ), and null matches any type (a field empty in one org only)."""
    kinds = (_kind(recorded), _kind(local))
    if "null" in kinds:
        return []
    if kinds[0] != kinds[1]:
        return [f"{where}: recorded {kinds[0]}, local org {kinds[1]}"]
    out: list[str] = []
    if isinstance(recorded, dict):
        for key in recorded:
            if key not in local:
                out.append(f"{where}.{key}: missing in the local org's answer")
        for key in local:
            if key not in recorded:
                out.append(f"{where}.{key}: only in the local org's answer")
        for key in recorded:
            if key in local:
                out += _shape_differences(recorded[key], local[key], f"{where}.{key}")
    elif isinstance(recorded, list) and recorded and local:
        for index in range(min(len(recorded), len(local))):
            out += _shape_differences(recorded[index], local[index], f"{where}[{index}]")
    return out


def _outcome_differences(recorded: Any, local: Any, where: str) -> list[str]:
    """Outcome values (see ``_OUTCOMES``, and a finished Bulk API job's state) that differ
    between two answers, at the same places."""
    out: list[str] = []
    if isinstance(recorded, dict) and isinstance(local, dict):
        keys = [k for k in _OUTCOMES if k in recorded and k in local]
        keys = [k for k in keys if k != "statusCode" or _is_number(recorded[k])]
        # A poll may catch a job in passing (InProgress): only where it ended is compared.
        if recorded.get("state") in _FINISHED and "state" in local:
            keys += [k for k in ("state", "numberRecordsFailed") if k in recorded and k in local]
        for key in keys:
            if recorded[key] != local[key]:
                out.append(f"{where}.{key}: recorded {recorded[key]!r}, local org {local[key]!r}")
        for key, value in recorded.items():
            if key in local and key not in keys:
                out += _outcome_differences(value, local[key], f"{where}.{key}")
    elif isinstance(recorded, list) and isinstance(local, list):
        for index, (a, b) in enumerate(zip(recorded, local, strict=False)):
            out += _outcome_differences(a, b, f"{where}[{index}]")
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _learn_ids(recorded: Any, local: Any, ids: dict[str, str]) -> None:
    """Pair the record ids at the same places of the two answers."""
    if isinstance(recorded, dict) and isinstance(local, dict):
        for key, value in recorded.items():
            if key in local:
                _learn_ids(value, local[key], ids)
    elif isinstance(recorded, list) and isinstance(local, list):
        for a, b in zip(recorded, local, strict=False):
            _learn_ids(a, b, ids)
    elif (
        isinstance(recorded, str)
        and isinstance(local, str)
        and recorded != local
        and _ID.fullmatch(recorded)
        and _ID.fullmatch(local)
        and recorded[:3] == local[:3]  # the same key prefix: the same kind of record
    ):
        ids[recorded] = local
        ids.setdefault(recorded[:15], local[:15])


def _mapped(text: str, ids: dict[str, str]) -> str:
    for real in sorted(ids, key=len, reverse=True):
        text = text.replace(real, ids[real])
    return text


def _mapped_value(value: Any, ids: dict[str, str]) -> Any:
    if value is None or not ids:
        return value
    return json.loads(_mapped(json.dumps(value), ids))
