"""The committed standard-object models (``sobjects.models``): up to date, importable, typed,
and able to round-trip records through the local org."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

import sobjects.models
from sobjects import Session, select
from sobjects.cli import main
from sobjects.codegen import HEADER, generate
from sobjects.codegen._command import snapshot_text
from sobjects.codegen._drift import generated_files
from sobjects.emulator import LocalOrg
from sobjects.fields import Address
from sobjects.models import Account, Case, Contact, Lead, Opportunity, Task, User
from sobjects.orm._fields import unwrap_field_annotation
from sobjects.orm._model import sobject_meta

from .support import MODELS_DIR, ROOT, SNAPSHOT_DIR, STANDARD, standard_describes, tool

# -- up to date -----------------------------------------------------------------------------------


def test_committed_models_match_the_standard_schema() -> None:
    files = generate(standard_describes().values())
    assert sorted(files) == sorted(["__init__.py", *(f"{name.lower()}.py" for name in STANDARD)])
    for name, text in files.items():
        committed = (MODELS_DIR / name).read_text(encoding="utf-8")
        assert committed == text, (
            f"src/sobjects/models/{name} is stale: regenerate it (see models/README.md)"
        )
    assert [p.name for p in generated_files(MODELS_DIR)] == sorted(files)


@pytest.mark.anyio
async def test_committed_snapshots_are_what_the_org_serves() -> None:
    snapshots = sorted(path.stem for path in SNAPSHOT_DIR.glob("*.json"))
    assert snapshots == sorted(STANDARD)
    async with LocalOrg().client() as sf:
        for name in STANDARD:
            served = await sf.describe(name)
            on_disk = (SNAPSHOT_DIR / f"{name}.json").read_text(encoding="utf-8")
            assert json.loads(on_disk) == served, f"models/_describe/{name}.json is stale"
            assert on_disk == snapshot_text(served)


def test_check_passes_on_the_committed_models(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "generate",
            "--describe",
            str(SNAPSHOT_DIR),
            "--out",
            str(MODELS_DIR),
            "--snapshots",
            str(SNAPSHOT_DIR),
            "--check",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "7 models match the describe metadata" in out


def test_every_module_has_the_header() -> None:
    for path in sorted(MODELS_DIR.glob("*.py")):
        assert path.read_text(encoding="utf-8").startswith(HEADER + "\n"), path


def test_committed_models_pass_ruff_and_mypy() -> None:
    for args in (["check"], ["format", "--check"]):
        done = tool("ruff", *args, str(MODELS_DIR))
        assert done.returncode == 0, done.stdout + done.stderr
    done = tool("mypy", "--strict", str(MODELS_DIR.relative_to(ROOT)))
    assert done.returncode == 0, done.stdout + done.stderr


# -- at run time ----------------------------------------------------------------------------------


def test_package_exports_every_model() -> None:
    assert sorted(sobjects.models.__all__) == sorted(STANDARD)
    for name in STANDARD:
        model = getattr(sobjects.models, name)
        assert model.__sobject_name__ == name
        assert model.__pydantic_complete__


def test_references_between_modules_resolve_to_the_model_classes() -> None:
    account = sobject_meta(Contact).fields["account"]
    assert account.kind == "parent" and account.target is Account
    assert account.lookup_api_name == "AccountId"
    annotation = unwrap_field_annotation(Contact.model_fields["account"].annotation)
    assert annotation == Account | None
    contacts = sobject_meta(Account).fields["contacts"]
    assert contacts.kind == "children" and contacts.target is Contact
    assert sobject_meta(Account).fields["owner"].target is User
    assert sobject_meta(Contact).fields["reports_to"].target is Contact  # self-reference
    assert sobject_meta(Case).fields["contact"].target is Contact
    assert sobject_meta(Opportunity).fields["account"].target is Account


def test_standard_fields() -> None:
    contact = sobject_meta(Contact).fields
    assert contact["last_name"].api_name == "LastName"
    assert Contact.model_fields["last_name"].is_required()
    assert contact["name"].read_only and contact["created_date"].read_only
    assert contact["interests"].api_name == "Interests__c" and contact["interests"].multipicklist
    assert contact["mailing_address"].read_only
    assert contact["mailing_address"].annotation == Address | None
    # Polymorphic lookups are Id fields only.
    task = sobject_meta(Task).fields
    assert task["who_id"].kind == "value" and "who" not in task
    assert task["what_id"].kind == "value" and "what" not in task
    assert "owner" not in task and "owner" not in sobject_meta(Lead).fields
    # Required on create: the fields Salesforce requires.
    assert [n for n, f in User.model_fields.items() if f.is_required()] == [
        "username",
        "last_name",
        "email",
        "alias",
        "time_zone_sid_key",
        "locale_sid_key",
        "email_encoding_key",
        "language_locale_key",
    ]
    assert [n for n, f in Opportunity.model_fields.items() if f.is_required()] == [
        "name",
        "stage_name",
        "close_date",
    ]
    assert User.model_fields["is_active"].default is True


# -- against the local org -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_models_round_trip_records_through_the_local_org() -> None:
    org = LocalOrg()
    async with org.client() as sf:
        async with Session(sf):
            acme = Account(
                name="Acme",
                industry="Energy",
                annual_revenue=Decimal("1250000"),
                number_of_employees=42,
                billing_city="Paris",
                billing_geocode_accuracy="City",
            )
            acme.save()
            jane = Contact(
                first_name="Jane",
                last_name="Doe",
                email="jane@acme.test",
                birthdate=date(1990, 5, 17),
                interests={"Music", "Travel"},
                do_not_call=True,
                account=acme,
            )
            jane.save()
            Contact(last_name="Roe", account=acme).save()
        assert acme.id is not None and jane.id is not None

        async with Session(sf) as session:
            account = await session.one(
                select(Account)
                .where(Account.name == "Acme")
                .with_children(Account.contacts, select(Contact).order_by(Contact.last_name))
            )
            assert account.id == acme.id
            assert account.industry == "Energy"
            assert account.annual_revenue == Decimal("1250000")
            assert account.number_of_employees == 42
            assert account.billing_city == "Paris"
            assert account.billing_geocode_accuracy == "City"
            assert account.owner_id is not None and account.created_date is not None
            assert [c.last_name for c in account.contacts] == ["Doe", "Roe"]

            contacts = await session.all(
                select(Contact)
                .with_parent(Contact.account)
                .where(Contact.account_id == acme.id)
                .order_by(Contact.last_name)
            )
            doe = contacts[0]
            assert doe.id == jane.id
            assert (doe.first_name, doe.last_name, doe.name) == ("Jane", "Doe", "Jane Doe")
            assert doe.email == "jane@acme.test"
            assert doe.birthdate == date(1990, 5, 17)
            assert doe.interests == {"Music", "Travel"}
            assert doe.do_not_call is True and doe.has_opted_out_of_email is False
            assert doe.account is not None and doe.account.name == "Acme"
            assert doe.account is account  # one object per record in a session

            # The other models query too (every value field is selectable).
            for model in (Case, Lead, Opportunity, Task):
                assert await session.all(select(model)) == []
            users = await session.all(select(User))
            assert len(users) == 1 and users[0].id == account.owner_id
