"""The ``sobjects`` command line and the pytest plugin's ``local_org`` / ``salesforce`` fixtures."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest

from sobjects import Salesforce
from sobjects.cli import main
from sobjects.emulator import LocalOrg

V = "/services/data/v62.0"
SCRIPT = Path(sys.executable).with_name("sobjects")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sobjects.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# -- command line ------------------------------------------------------------------------------


@pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is not installed here")
def test_console_script_help() -> None:
    done = subprocess.run(
        [str(SCRIPT), "emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for option in ("--port", "--data", "--latency-ms", "--api-limit"):
        assert option in done.stdout


def test_help_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["emulator", "--help"])
    assert exited.value.code == 0
    assert "--port" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "-1"], "--port must be 0..65535"),
        (["--port", "65536"], "--port must be 0..65535"),
        (["--latency-ms", "-5"], "--latency-ms must be 0..60000"),
        (["--latency-ms", "60001"], "--latency-ms must be 0..60000"),
        (["--latency-ms", "nan"], "--latency-ms must be 0..60000"),
        (["--api-limit", "-1"], "--api-limit must be >= 0"),
        (["--user", "ada"], "--user takes NAME:SECRET"),
        (["--app", ":secret"], "--app takes NAME:SECRET"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["emulator", *args]) == 2
    assert message in capsys.readouterr().err


def test_bad_port_from_the_shell() -> None:
    done = run_cli("emulator", "--port", "-1")
    assert done.returncode == 2
    assert "--port must be 0..65535" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("args", [[], ["nope"], ["emulator", "--port", "eighty"]])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err


@contextlib.contextmanager
def served(*args: str) -> Iterator[dict[str, str]]:
    """``sobjects emulator ARGS`` in a subprocess; yields the lines it prints on start
    (``base_url``, ``access_token``, ...) as a dict, and stops it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sobjects.cli", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    watchdog = threading.Timer(20, process.kill)  # a hung start ends the readline below
    watchdog.start()
    try:
        assert process.stdout is not None
        seen: dict[str, str] = {}
        while "access_token" not in seen:
            line = process.stdout.readline()
            assert line, f"the emulator exited with {process.poll()}"
            key, _, value = line.strip().partition(": ")
            seen[key] = value
        yield seen
    finally:
        watchdog.cancel()
        process.kill()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


def test_api_limit_zero_is_honoured() -> None:
    """``--api-limit 0`` is an exhausted org (every call refused), not the default limit."""
    with (
        served("--api-limit", "0") as seen,
        httpx.Client(
            base_url=seen["base_url"],
            headers={"Authorization": f"Bearer {seen['access_token']}"},
            trust_env=False,
            timeout=10,
        ) as http,
    ):
        refused = http.get(f"{V}/limits")
    assert refused.status_code == 403
    assert refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=0/0"


def test_served_org_checks_the_logins_it_was_given() -> None:
    """``--user`` and ``--app``: the token endpoint then grants only those (issue 11)."""
    login = {"grant_type": "password", "client_id": "app-id", "client_secret": "app-secret"}
    options = ("--user", "ada@example.com:s3cret", "--app", "app-id:app-secret")
    with (
        served(*options) as seen,
        httpx.Client(base_url=seen["base_url"], trust_env=False, timeout=10) as http,
    ):
        wrong = http.post(
            "/services/oauth2/token",
            data={**login, "username": "ada@example.com", "password": "nope"},
        )
        right = http.post(
            "/services/oauth2/token",
            data={**login, "username": "ada@example.com", "password": "s3cret"},
        )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert right.status_code == 200 and right.json()["access_token"]


# -- pytest plugin -----------------------------------------------------------------------------


def test_plugin_is_registered() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("sobjects") == "sobjects.testing.plugin"


def test_local_org_fixture(local_org: LocalOrg) -> None:
    assert isinstance(local_org, LocalOrg)
    assert local_org.schema.require("Account").key_prefix == "001"
    assert list(local_org.store.records("Account")) == []


@pytest.mark.anyio
async def test_salesforce_fixture_talks_to_local_org(
    salesforce: Salesforce, local_org: LocalOrg
) -> None:
    assert isinstance(salesforce, Salesforce)
    contact_id = await salesforce.sobject.create("Contact", {"LastName": "Doe"})
    record = await salesforce.sobject.get("Contact", contact_id)
    assert (record["Id"], record["LastName"]) == (contact_id, "Doe")
    assert [c["Id"] for c in local_org.store.records("Contact")] == [contact_id]


# Two tests that would see each other's data if the org were shared (in either order).


@pytest.mark.anyio
async def test_fixtures_are_fresh_per_test_one(salesforce: Salesforce, local_org: LocalOrg) -> None:
    assert list(local_org.store.records("Account")) == []
    assert local_org.api_usage == 0
    await salesforce.sobject.create("Account", {"Name": "One"})
    assert [a["Name"] for a in local_org.store.records("Account")] == ["One"]


@pytest.mark.anyio
async def test_fixtures_are_fresh_per_test_two(salesforce: Salesforce, local_org: LocalOrg) -> None:
    assert list(local_org.store.records("Account")) == []
    assert local_org.api_usage == 0
    await salesforce.sobject.create("Account", {"Name": "Two"})
    assert [a["Name"] for a in local_org.store.records("Account")] == ["Two"]


# -- shaping the served org: --schema, --seed, --log-requests ---------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schema", "{missing}"], "no such file"),
        (["--schema", "{bad}"], "not valid JSON"),
        (["--schema", "no_such_pkg_xyz.models"], "no importable module"),
        (["--seed", "{missing}"], "no such file"),
        (["--seed", "{bad_row}"], "Contact.csv: row 3:"),
    ],
)
def test_bad_schema_or_seed_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "Contact.csv").write_text("LastName,Email\nDoe,\n,a@b.io\n")  # row 3: no LastName
    paths = {
        "missing": str(tmp_path / "missing.json"),
        "bad": str(tmp_path / "bad.json"),
        "bad_row": str(tmp_path / "Contact.csv"),
    }
    assert main(["emulator", *[a.format(**paths) for a in args]]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_served_org_is_shaped_seeded_and_logged(tmp_path: Path) -> None:
    """A non-Python client upserts on an external id the org got from --schema, finds the
    seeded records, and each of its requests is a JSON line in the log."""
    gadget = {"name": "Gadget__c", "fields": [{"name": "Code__c", "type": "string"}]}
    (tmp_path / "gadget.json").write_text(json.dumps(gadget))
    (tmp_path / "seed.json").write_text(
        json.dumps({"Account": [{"@ref": "acme", "Name": "Acme", "Ext_Id__c": "ACME"}]})
    )
    (tmp_path / "Contact.csv").write_text("LastName,AccountId\nDoe,@ref:acme\n")
    log = tmp_path / "requests.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sobjects.cli",
            "emulator",
            *("--schema", "sobjects._demo", "--schema", str(tmp_path / "gadget.json")),
            *("--seed", str(tmp_path / "seed.json"), "--seed", str(tmp_path / "Contact.csv")),
            *("--log-requests", str(log)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(20, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        seen: dict[str, str] = {}
        while "Press Ctrl+C to stop." not in seen:
            line = process.stdout.readline()
            assert line, f"the emulator exited with {process.poll()}"
            key, _, value = line.strip().partition(": ")
            seen[key] = seen.get(key, "") + value + "\n"
        assert "Contact.csv: 1 record(s)" in seen["seed"]
        with httpx.Client(
            base_url=seen["base_url"].strip(),
            headers={"Authorization": f"Bearer {seen['access_token'].strip()}"},
            trust_env=False,
            timeout=10,
        ) as http:
            updated = http.patch(f"{V}/sobjects/Account/Ext_Id__c/ACME", json={"Name": "Acme Co"})
            created = http.post(f"{V}/sobjects/Gadget__c", json={"Code__c": "G1"})
            rows = http.get(
                f"{V}/query", params={"q": "SELECT LastName, Account.Name FROM Contact"}
            ).json()["records"]
        assert (updated.status_code, created.status_code) == (200, 201)
        assert updated.json()["created"] is False
        assert [(r["LastName"], r["Account"]["Name"]) for r in rows] == [("Doe", "Acme Co")]
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert [(x["method"], x["status"], x["api_calls"]) for x in lines] == [
            ("PATCH", 200, 1),
            ("POST", 201, 1),
            ("GET", 200, 1),
        ]
        assert "SELECT" not in log.read_text()
    finally:
        watchdog.cancel()
        process.kill()
        process.wait(timeout=10)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def start_emulator(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """A served org and what it printed up to "Press Ctrl+C to stop." (repeated keys joined)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sobjects.cli", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    seen: dict[str, str] = {}
    while "Press Ctrl+C to stop." not in seen:
        line = process.stdout.readline()
        assert line, f"the emulator exited with {process.poll()}"
        key, _, value = line.strip().partition(": ")
        seen[key] = f"{seen[key]}\n{value}" if key in seen else value
    return process, seen


def test_seeds_go_into_a_new_journal_once_and_stdout_logs(tmp_path: Path) -> None:
    journal = str(tmp_path / "org.jsonl")
    (tmp_path / "Account.csv").write_text("Name\nAcme\n")
    args = ("--data", journal, "--seed", str(tmp_path / "Account.csv"), "--log-requests")
    for expected in ("Account.csv: 1 record(s)", "skipped (the data file already holds data)"):
        process, seen = start_emulator(*args)
        watchdog = threading.Timer(20, process.kill)
        watchdog.start()
        try:
            assert expected in seen["seed"]
            with httpx.Client(
                base_url=seen["base_url"],
                headers={"Authorization": f"Bearer {seen['access_token']}"},
                trust_env=False,
                timeout=10,
            ) as http:
                rows = http.get(f"{V}/query", params={"q": "SELECT Name FROM Account"}).json()
            assert [r["Name"] for r in rows["records"]] == ["Acme"]
            assert process.stdout is not None
            logged = json.loads(process.stdout.readline())  # --log-requests alone: stdout
            assert (logged["method"], logged["path"], logged["status"]) == (
                "GET",
                f"{V}/query",
                200,
            )
        finally:
            watchdog.cancel()
            process.kill()  # the journal is fsynced before the seeds are acknowledged
            process.wait(timeout=10)
            assert process.stdout is not None
            process.stdout.close()
