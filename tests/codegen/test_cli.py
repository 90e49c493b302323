"""``sobjects generate``: from describe files and from a running org, and ``--check``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from sobjects.cli import main
from sobjects.codegen import HEADER, describe_changes
from sobjects.codegen._command import TOKEN_ENV
from sobjects.emulator import LocalOrg

from .support import SNAPSHOT_DIR, STANDARD


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["generate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def copy_describes(target: Path, names: tuple[str, ...] = STANDARD) -> Path:
    target.mkdir(parents=True)
    for name in names:
        shutil.copy(SNAPSHOT_DIR / f"{name}.json", target / f"{name}.json")
    return target


def edit(directory: Path, name: str) -> Any:
    """A context for editing ``directory/name.json`` in place."""

    class Editor:
        def __enter__(self) -> dict[str, Any]:
            self.data: dict[str, Any] = json.loads((directory / f"{name}.json").read_text())
            return self.data

        def __exit__(self, *exc: object) -> None:
            (directory / f"{name}.json").write_text(json.dumps(self.data, indent=2))

    return Editor()


def field(describe: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in describe["fields"] if f["name"] == name)


def snapshot(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()}


# -- --describe -----------------------------------------------------------------------------------


def test_generate_from_describe_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = copy_describes(tmp_path / "describes")
    out = tmp_path / "crm"
    code, stdout, _ = run(
        capsys, "--describe", str(source), "--objects", "Account,Contact", "--out", str(out)
    )
    assert code == 0
    assert "2 models in" in stdout and "3 files written" in stdout
    assert sorted(p.name for p in out.glob("*.py")) == ["__init__.py", "account.py", "contact.py"]
    # The describes the models came from are kept next to them.
    assert sorted(p.name for p in (out / "_describe").iterdir()) == ["Account.json", "Contact.json"]
    contact = (out / "contact.py").read_text()
    assert "    account: Field[Account | None] = Field(None)\n" in contact
    assert "    owner_id: Field[Id | None] = Field(None)\n" in contact
    assert "    owner:" not in contact  # User is not generated
    account = (out / "account.py").read_text()
    assert "    contacts: Field[list[Contact]] = Field(default_factory=list)\n" in account
    assert "cases" not in account

    # Again: nothing to write, and the check passes.
    code, stdout, _ = run(
        capsys, "--describe", str(source), "--objects", "Account,Contact", "--out", str(out)
    )
    assert code == 0 and "0 files written" in stdout and "0 snapshots updated" in stdout
    code, stdout, _ = run(
        capsys,
        "--describe",
        str(source),
        "--objects",
        "Account,Contact",
        "--out",
        str(out),
        "--check",
    )
    assert code == 0, stdout
    assert "2 models match the describe metadata" in stdout


def test_every_describe_file_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = copy_describes(tmp_path / "describes", ("Case", "Contact"))
    code, _, _ = run(capsys, "--describe", str(source), "--out", str(tmp_path / "out"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.py")) == [
        "__init__.py",
        "case.py",
        "contact.py",
    ]


def test_models_no_longer_generated_are_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = copy_describes(tmp_path / "describes")
    out = tmp_path / "out"
    run(capsys, "--describe", str(source), "--objects", "Account,Contact", "--out", str(out))
    (out / "helpers.py").write_text("X = 1\n")  # not generated: left alone
    code, stdout, _ = run(
        capsys, "--describe", str(source), "--objects", "Account", "--out", str(out)
    )
    assert code == 0 and "removed" in stdout
    assert sorted(p.name for p in out.glob("*.py")) == ["__init__.py", "account.py", "helpers.py"]
    assert "contacts" not in (out / "account.py").read_text()


def test_files_not_written_by_generate_are_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = copy_describes(tmp_path / "describes", ("Account", "Contact"))
    out = tmp_path / "out"
    out.mkdir()
    mine = "# my own Account model\nclass Account: ...\n"
    (out / "account.py").write_text(mine)
    (out / "__init__.py").write_bytes(b"\xff\xfe not UTF-8\n")
    code, stdout, err = run(capsys, "--describe", str(source), "--out", str(out))
    assert code == 2, stdout
    assert f"will not overwrite {out / '__init__.py'}, {out / 'account.py'}: " in err
    assert "not written by sobjects generate" in err and "pass --force" in err
    # Nothing was written.
    assert sorted(p.name for p in out.iterdir()) == ["__init__.py", "account.py"]
    assert (out / "account.py").read_text() == mine

    code, stdout, _ = run(capsys, "--describe", str(source), "--out", str(out), "--force")
    assert code == 0 and "3 files written" in stdout
    assert (out / "account.py").read_text().startswith(HEADER + "\n")
    # Generated files are overwritten without --force.
    (out / "account.py").write_text(HEADER + "\n# edited\n")
    code, stdout, _ = run(capsys, "--describe", str(source), "--out", str(out))
    assert code == 0 and "1 files written" in stdout


def test_snapshots_of_sobjects_no_longer_generated_are_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = copy_describes(tmp_path / "describes")
    out = tmp_path / "out"
    snapshots = out / "_describe"
    code, _, _ = run(
        capsys, "--describe", str(source), "--objects", "Account,Contact,User", "--out", str(out)
    )
    assert code == 0
    # Files that are not snapshots of an sObject are left alone.
    (snapshots / "notes.json").write_text('{"name": "Something"}')
    (snapshots / "Lead.json").write_text("not JSON")
    code, stdout, _ = run(
        capsys, "--describe", str(source), "--objects", "Account", "--out", str(out)
    )
    assert code == 0
    for name in ("Contact", "User"):
        assert f"removed {snapshots / name}.json (no longer generated)\n" in stdout
    assert sorted(p.name for p in snapshots.iterdir()) == [
        "Account.json",
        "Lead.json",
        "notes.json",
    ]
    # The models check against their own snapshots: no model reported missing.
    (snapshots / "notes.json").unlink()
    (snapshots / "Lead.json").unlink()
    code, stdout = check(capsys, snapshots, out)
    assert code == 0, stdout
    assert "1 models match" in stdout

    # A snapshot folder given with --snapshots may serve other packages: nothing is removed.
    elsewhere = tmp_path / "elsewhere"
    for objects in ("Account,Contact", "Account"):
        code, _, _ = run(
            capsys,
            "--describe",
            str(source),
            "--objects",
            objects,
            "--out",
            str(tmp_path / "out2"),
            "--snapshots",
            str(elsewhere),
        )
        assert code == 0
    assert sorted(p.name for p in elsewhere.iterdir()) == ["Account.json", "Contact.json"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objects", "Account,Nope"], "no describe for Nope (expected Nope.json)"),
        (["--objects", " , "], "--objects names no sObject"),
    ],
)
def test_describe_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    source = copy_describes(tmp_path / "describes", ("Account",))
    code, _, err = run(capsys, "--describe", str(source), "--out", str(tmp_path / "o"), *args)
    assert code == 2 and message in err


def test_a_describe_source_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["generate", "--out", "x"])
    assert exited.value.code == 2
    assert "one of the arguments --describe --org is required" in capsys.readouterr().err


# -- --check ---------------------------------------------------------------------------------------


@pytest.fixture
def generated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """Models generated from copies of the standard describes; a second copy to edit."""
    out = tmp_path / "models"
    code, _, _ = run(capsys, "--describe", str(copy_describes(tmp_path / "v1")), "--out", str(out))
    assert code == 0
    return out, copy_describes(tmp_path / "v2")


def check(capsys: pytest.CaptureFixture[str], source: Path, out: Path) -> tuple[int, str]:
    code, stdout, _ = run(capsys, "--describe", str(source), "--out", str(out), "--check")
    return code, stdout


def test_check_reports_added_removed_and_changed_fields(
    generated: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out, v2 = generated
    before = snapshot(out)
    with edit(v2, "Contact") as contact:
        contact["fields"].append(
            {**field(contact, "Title"), "name": "Nickname__c", "label": "Nickname"}
        )
        contact["fields"].remove(field(contact, "Fax"))
        field(contact, "Birthdate")["type"] = "datetime"
    with edit(v2, "User") as user:
        values = field(user, "LocaleSidKey")["picklistValues"]
        values[:] = [v for v in values if v["value"] != "ja_JP"]
        values.append({**values[0], "value": "sv_SE", "label": "Swedish"})

    code, stdout = check(capsys, v2, out)
    assert code == 1
    assert "the models do not match the describe metadata" in stdout
    for line in [
        "  Contact: field removed: Fax (phone)",
        "  Contact: field added: Nickname__c (string)",
        "  Contact.Birthdate: type changed: date -> datetime",
        "  User.LocaleSidKey: picklist values added 'sv_SE'; removed 'ja_JP'",
        "  contact.py: changed",
        "  user.py: changed",
    ]:
        assert line + "\n" in stdout
    # The source diff.
    assert '+    nickname: Field[str | None] = Field(None, api_name="Nickname__c")\n' in stdout
    assert "-    fax: Field[str | None] = Field(None)\n" in stdout
    assert "+    birthdate: Field[datetime | None] = Field(None)\n" in stdout
    assert '-    "ja_JP",\n' in stdout and '+    "sv_SE",\n' in stdout
    assert "account.py" not in stdout
    assert snapshot(out) == before  # --check writes nothing

    # Regenerating brings the models (and their snapshots) up to date.
    code, _, _ = run(capsys, "--describe", str(v2), "--out", str(out))
    assert code == 0
    assert check(capsys, v2, out)[0] == 0


def test_check_reports_picklist_changes_the_source_does_not_show(
    generated: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out, v2 = generated
    with edit(v2, "Account") as account:
        values = field(account, "Industry")["picklistValues"]
        values.append({**values[0], "value": "Space", "label": "Space"})
    code, stdout = check(capsys, v2, out)
    assert code == 1
    assert "  Account.Industry: picklist values added 'Space'\n" in stdout
    assert "The generated source is unchanged; the snapshots are out of date." in stdout


def test_check_reports_hand_edits(
    generated: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out, v2 = generated
    path = out / "account.py"
    path.write_text(path.read_text().replace("    sic: Field", "    sic_code: Field"))
    code, stdout = check(capsys, v2, out)
    assert code == 1
    assert "Changes since the snapshots" not in stdout
    assert "  account.py: changed\n" in stdout
    assert "-    sic_code: Field[str | None] = Field(None)\n" in stdout


def test_check_reports_missing_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = copy_describes(tmp_path / "describes", ("Account",))
    code, stdout = check(capsys, source, tmp_path / "nowhere")
    assert code == 1
    assert "  account.py: missing\n" in stdout
    assert "No snapshot in " in stdout and "for Account: only the generated source" in stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not JSON", "cannot read {path}: Expecting property name"),
        (b"[]", "{path} is not an sObject describe (no name)"),
        (b'{"name": "\xff"}', "cannot read {path}: 'utf-8' codec can't decode byte 0xff"),
    ],
)
def test_check_with_a_corrupt_snapshot(
    generated: tuple[Path, Path], capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    out, v2 = generated
    path = out / "_describe" / "Account.json"
    path.write_bytes(content)
    code, stdout, err = run(capsys, "--describe", str(v2), "--out", str(out), "--check")
    assert code == 2, stdout
    assert err.startswith("sobjects generate: ") and message.format(path=path) in err


def test_unreadable_files_are_errors_not_tracebacks(
    tmp_path: Path, generated: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out, v2 = generated
    # A generated module that is no longer UTF-8: --check cannot compare it ...
    path = out / "account.py"
    path.write_bytes(HEADER.encode() + b"\n\xff\xfe\n")
    code, stdout, err = run(capsys, "--describe", str(v2), "--out", str(out), "--check")
    assert code == 2, stdout
    assert f"sobjects generate: cannot read {path}: not UTF-8 text" in err
    # ... and writing replaces it.
    code, stdout, _ = run(capsys, "--describe", str(v2), "--out", str(out))
    assert code == 0 and f"wrote {path}\n" in stdout

    # An --out that cannot be created.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, stdout, err = run(capsys, "--describe", str(v2), "--out", str(blocker / "models"))
    assert code == 2, stdout
    assert err.startswith("sobjects generate: ") and str(blocker / "models") in err


def test_check_without_snapshots_compares_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = copy_describes(tmp_path / "describes", ("Account",))
    out = tmp_path / "out"
    snapshots = tmp_path / "elsewhere"
    code, _, _ = run(
        capsys, "--describe", str(source), "--out", str(out), "--snapshots", str(snapshots)
    )
    assert code == 0 and (snapshots / "Account.json").is_file()
    assert not (out / "_describe").exists()
    code, stdout = check(capsys, source, out)  # default snapshots: <out>/_describe, none there
    assert code == 0, stdout


def test_describe_changes() -> None:
    old: dict[str, Any] = {
        "Invoice__c": {
            "fields": [
                {"name": "Name", "type": "string", "nillable": True},
                {"name": "Code__c", "type": "string"},
                {"name": "Total__c", "type": "currency"},
                {"name": "Account__c", "type": "reference", "referenceTo": ["Account"]},
                {
                    "name": "Status__c",
                    "type": "picklist",
                    "picklistValues": [{"value": "A", "active": True}],
                },
            ],
            "childRelationships": [
                {"relationshipName": "Lines__r", "childSObject": "Line__c", "field": "Inv__c"}
            ],
        },
        "Gone__c": {"fields": []},
    }
    new: dict[str, Any] = {
        "Invoice__c": {
            "fields": [
                {"name": "Name", "type": "string", "nillable": False},
                {"name": "Code__c", "type": "string", "externalId": True},
                {"name": "Total__c", "type": "currency", "createable": False, "updateable": False},
                {
                    "name": "Account__c",
                    "type": "reference",
                    "referenceTo": ["Account", "Contact"],
                },
                {
                    "name": "Status__c",
                    "type": "picklist",
                    "restrictedPicklist": True,
                    "picklistValues": [{"value": "A", "active": False}],
                },
            ],
            "childRelationships": [
                {"relationshipName": "Items__r", "childSObject": "Line__c", "field": "Inv__c"}
            ],
        }
    }
    assert describe_changes(old, new) == [
        "Gone__c: sObject no longer generated",
        "Invoice__c.Name: now required",
        "Invoice__c.Code__c: now an external id",
        "Invoice__c.Total__c: now read-only",
        "Invoice__c.Account__c: lookup targets changed: 'Account' -> 'Account', 'Contact'",
        "Invoice__c.Status__c: picklist values deactivated: 'A'",
        "Invoice__c.Status__c: picklist now restricted",
        "Invoice__c: child relationship removed: Lines__r (Line__c.Inv__c)",
        "Invoice__c: child relationship added: Items__r (Line__c.Inv__c)",
    ]
    assert describe_changes(new, new) == []


# -- --org -----------------------------------------------------------------------------------------


async def generate_in_thread(*args: str) -> int:
    """``sobjects generate`` runs its own event loop: run it off this one, as a shell would."""
    return await anyio.to_thread.run_sync(main, ["generate", *args])


@pytest.mark.anyio
async def test_generate_from_a_running_org(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = LocalOrg()
    org.define_field("Contact", {"name": "Nickname__c", "type": "string", "externalId": True})
    out = tmp_path / "crm"
    async with org.serve() as url:
        base = ["--org", url, "--objects", "account,Contact", "--out", str(out)]
        code = await generate_in_thread(*base, "--token", org.access_token)
        stdout = capsys.readouterr().out
        assert code == 0, stdout
        assert "2 snapshots updated" in stdout
        # Snapshots under the canonical names, exactly as the org describes the objects.
        async with org.client() as sf:
            for name in ("Account", "Contact"):
                on_disk = json.loads((out / "_describe" / f"{name}.json").read_text())
                assert on_disk == await sf.describe(name)
        contact = (out / "contact.py").read_text()
        nickname = 'Field(None, api_name="Nickname__c", external_id=True)'
        assert f"    nickname: Field[str | None] = {nickname}\n" in contact

        # The token may come from the environment; the check against the org passes ...
        monkeypatch.setenv(TOKEN_ENV, org.access_token)
        assert await generate_in_thread(*base, "--check") == 0
        assert "2 models match" in capsys.readouterr().out

        # ... until the org's schema changes.
        org.define_field("Contact", {"name": "Shoe_Size__c", "type": "double"})
        assert await generate_in_thread(*base, "--check") == 1
        stdout = capsys.readouterr().out
        assert "  Contact: field added: Shoe_Size__c (double)\n" in stdout
        shoe_size = 'shoe_size: Field[float | None] = Field(None, api_name="Shoe_Size__c")'
        assert f"+    {shoe_size}\n" in stdout

        # A token the org does not know.
        monkeypatch.delenv(TOKEN_ENV)
        code = await generate_in_thread(*base, "--token", "00Dbogus!token")
        assert code == 1
        assert "cannot fetch describes from" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objects", "Account"], "--org needs --token or the SOBJECTS_ACCESS_TOKEN"),
        (["--token", "t"], "--org needs --objects"),
    ],
)
def test_org_usage_errors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    code, _, err = run(capsys, "--org", "http://127.0.0.1:9", "--out", "x", *args)
    assert code == 2 and message in err
