"""``generate``: names, types, defaults and relationships from describe metadata."""

from __future__ import annotations

import keyword
import random
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pydantic
import pytest

from sobjects import Session, SObject, select
from sobjects.codegen import HEADER, TYPES, generate
from sobjects.codegen._naming import RESERVED_FIELD_NAMES, avoid_reserved, class_name
from sobjects.codegen._source import natord_compare, py_string
from sobjects.emulator import LocalOrg
from sobjects.emulator._schema import Schema
from sobjects.fields import Location
from sobjects.orm._model import sobject_meta

from .support import LONG_FIELD, MODELS_DIR, ROOT, imported, synthetic_describes, tool


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return generate(synthetic_describes().values())


@pytest.fixture(scope="module")
def invoice(files: dict[str, str]) -> list[str]:
    return files["invoice.py"].splitlines()


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def package(tmp_path: Path, files: dict[str, str]) -> Iterator[ModuleType]:
    with imported(write(tmp_path / "generated_synthetic", files)) as module:
        yield module


# -- the shape of the output -------------------------------------------------------------------


def test_one_module_per_sobject_and_a_package(files: dict[str, str]) -> None:
    assert list(files) == [
        "__init__.py",
        "account.py",
        "contact.py",
        "invoice.py",
        "location.py",
        "widget.py",
    ]
    for text in files.values():
        assert text.startswith(HEADER + "\n")
    init = files["__init__.py"]
    assert "from .invoice import Invoice\n" in init
    assert '__all__ = ["Account", "Contact", "Invoice", "Location_", "Widget"]' in init
    assert "Invoice.model_rebuild()\n" in init


def test_output_is_deterministic() -> None:
    describes = list(synthetic_describes().values())
    first = generate(describes)
    random.Random(7).shuffle(describes)
    assert generate(describes) == first


def test_type_mapping(invoice: list[str]) -> None:
    expected = [
        '    amount: Field[Decimal | None] = Field(None, api_name="Amount__c")',
        '    rate: Field[float | None] = Field(None, api_name="Rate__c")',
        '    weight: Field[float | None] = Field(None, api_name="Weight__c")',
        '    quantity: Field[int | None] = Field(None, api_name="Quantity__c")',
        '    big: Field[int | None] = Field(None, api_name="Big__c")',
        '    due: Field[date | None] = Field(None, api_name="Due__c")',
        '    sent: Field[datetime | None] = Field(None, api_name="Sent__c")',
        '    cutoff: Field[time | None] = Field(None, api_name="Cutoff__c")',
        '    stage: Field[str | None] = Field(None, api_name="Stage__c")',
        '    tags: Field[MultiPicklist | None] = Field(None, api_name="Tags__c")',
        '    account_id: Field[Id | None] = Field(None, api_name="Account__c")',
        '    payload: Field[Any] = Field(None, api_name="Payload__c")',
    ]
    for line in expected:
        assert line in invoice
    assert "from datetime import date, datetime, time" in invoice
    assert "from decimal import Decimal" in invoice
    assert "from typing import TYPE_CHECKING, Any, Literal" in invoice
    assert "from sobjects.fields import Field, Id, Location, MultiPicklist" in invoice
    assert TYPES["currency"] == "Decimal" and TYPES["reference"] == "Id"


def test_booleans_default_to_their_describe_default(invoice: list[str]) -> None:
    assert '    paid: Field[bool] = Field(False, api_name="Paid__c")' in invoice
    assert '    approved: Field[bool] = Field(True, api_name="Approved__c")' in invoice


def test_id_is_inherited(files: dict[str, str]) -> None:
    for name, text in files.items():
        assert "    id:" not in text, name


def test_required_read_only_and_external_id(invoice: list[str]) -> None:
    assert "    name: Field[str]" in invoice  # not nillable, createable, not defaulted
    assert '    kind: Field[Kind] = Field(api_name="Kind__c")' in invoice
    assert (
        '    ext_key: Field[str | None] = Field(None, api_name="Ext_Key__c", external_id=True)'
        in invoice
    )
    assert (
        '    total: Field[Decimal | None] = Field(None, api_name="Total__c", read_only=True)'
        in invoice
    )
    # A line too long for 88 columns is split one argument a line, as ruff would.
    start = invoice.index(
        "    a_very_long_custom_field_name_for_wrapping_tests: Field[str | None] = Field("
    )
    assert invoice[start + 1 : start + 6] == [
        "        None,",
        f'        api_name="{LONG_FIELD}",',
        "        external_id=True,",
        "        read_only=True,",
        "    )",
    ]


def test_restricted_picklists_are_literals(invoice: list[str], files: dict[str, str]) -> None:
    assert """Status = Literal["Draft", "Sent", "Paid", 'Say "hi"', "it's"]""" in invoice
    assert '    status: Field[Status | None] = Field(None, api_name="Status__c")' in invoice
    # An unrestricted picklist takes any text.
    assert '    stage: Field[str | None] = Field(None, api_name="Stage__c")' in invoice
    # Long value lists are split one value a line.
    user_like = files["contact.py"].splitlines()
    start = user_like.index("MailingGeocodeAccuracy = Literal[")
    assert user_like[start + 1] == '    "Address",'


def test_naming_avoids_keywords_and_model_attributes(invoice: list[str]) -> None:
    assert '    class_: Field[str | None] = Field(None, api_name="Class__c")' in invoice
    assert '    json_: Field[str | None] = Field(None, api_name="Json__c")' in invoice
    assert '    date_: Field[date | None] = Field(None, api_name="Date__c")' in invoice
    assert '    save_: Field[str | None] = Field(None, api_name="Save__c")' in invoice
    assert (
        '    sf_model_number: Field[str | None] = Field(None, api_name="Model_Number__c")'
        in invoice
    )
    # Custom sObject: class name without __c, API name spelled out.
    assert 'class Invoice(SObject, api_name="Invoice__c"):' in invoice


@pytest.mark.parametrize("name", [*keyword.kwlist, "copy", "dict", "json", "schema", "id"])
def test_avoid_reserved(name: str) -> None:
    assert avoid_reserved(name) == name + "_"


def test_reserved_names_cover_every_sobject_attribute() -> None:
    public = {n for n in dir(SObject) if not n.startswith("_") and not n.startswith("model_")}
    assert public <= RESERVED_FIELD_NAMES
    assert avoid_reserved("model_config").startswith("sf_")


def test_class_names() -> None:
    assert class_name("Account") == "Account"
    assert class_name("Invoice_Line__c") == "InvoiceLine"
    assert class_name("Location") == "Location_"  # sobjects.fields.Location is imported
    assert class_name("Field") == "Field_"


def test_name_clashes_inside_a_model(files: dict[str, str]) -> None:
    widget = files["widget.py"].splitlines()
    # Standard value fields keep their names; a relationship named like one gets an underscore.
    assert "    account: Field[str | None] = Field(None)" in widget
    assert "    account_id: Field[Id | None] = Field(None)" in widget
    assert '    account_: Field[Account | None] = Field(None, api_name="Account")' in widget
    # A custom field yields to a standard one, even when the describe lists it first.
    assert '    foo_: Field[str | None] = Field(None, api_name="Foo__c")' in widget
    assert "    foo: Field[str | None] = Field(None)" in widget
    # A relationship the ORM could not map to its lookup field is left out.
    assert "    boss_id: Field[Id | None] = Field(None)" in widget
    assert "manager" not in files["widget.py"]


def test_lookups(invoice: list[str], files: dict[str, str]) -> None:
    # A custom lookup: the Id field gets _id, the relationship the plain name.
    assert '    account: Field[Account | None] = Field(None, api_name="Account__r")' in invoice
    # Polymorphic (several targets) and lookups to sObjects not generated: Id fields only.
    assert '    related_id: Field[Id | None] = Field(None, api_name="Related__c")' in invoice
    assert '    approver_id: Field[Id | None] = Field(None, api_name="Approver__c")' in invoice
    assert not any(line.startswith(("    related:", "    approver:")) for line in invoice)
    # Self-references need no import.
    assert (
        '    parent_invoice: Field[Invoice | None] = Field(None, api_name="Parent_Invoice__r")'
        in invoice
    )
    assert "if TYPE_CHECKING:" in invoice and "    from .account import Account" in invoice
    assert "    from .invoice import Invoice" not in invoice


def test_custom_fields_never_take_a_standard_relationships_name(tmp_path: Path) -> None:
    describes = {name: dict(d) for name, d in synthetic_describes().items()}
    contact = describes["Contact"]
    contact["fields"] = [
        {"name": "Account__c", "type": "string", "nillable": True},  # listed first on purpose
        *contact["fields"],
        {"name": "Owner__c", "type": "string", "nillable": True},
    ]
    files = generate(describes.values())
    lines = files["contact.py"].splitlines()
    assert "    account: Field[Account | None] = Field(None)" in lines
    assert '    account_: Field[str | None] = Field(None, api_name="Account__c")' in lines
    assert "    account_id: Field[Id | None] = Field(None)" in lines
    with imported(write(tmp_path / "generated_clash", files)) as module:
        fields = sobject_meta(module.Contact).fields
        assert fields["account"].kind == "parent" and fields["account"].target is module.Account
        assert fields["account_"].api_name == "Account__c"


def test_required_lookups_may_be_set_through_their_parent() -> None:
    describes = invoice_lines()
    lines = generate(describes.values())["invoice_line.py"].splitlines()
    assert '    invoice_id: Field[Id | None] = Field(None, api_name="Invoice__c")' in lines
    assert '    invoice: Field[Invoice | None] = Field(None, api_name="Invoice__r")' in lines
    # Without a generated relationship (Hub__c is not generated), the lookup stays required.
    assert '    hub_id: Field[Id] = Field(api_name="Hub__c")' in lines
    assert not any(line.startswith("    hub:") for line in lines)


def invoice_lines(hub: bool = True) -> dict[str, dict[str, Any]]:
    """Invoice__c and Invoice_Line__c, whose required lookup to its invoice has a relationship
    (and, with ``hub``, a required lookup to Hub__c, which is not generated)."""
    name = {"name": "Name", "type": "string", "nillable": False}
    invoice = {"name": "Invoice__c", "fields": [name]}
    line_fields: list[dict[str, Any]] = [
        name,
        {
            "name": "Invoice__c",
            "type": "reference",
            "referenceTo": ["Invoice__c"],
            "relationshipName": "Invoice__r",
            "childRelationshipName": "Lines__r",
            "nillable": False,
        },
    ]
    extra = []
    if hub:
        extra.append({"name": "Hub__c", "fields": [name]})
        line_fields.append(
            {
                "name": "Hub__c",
                "type": "reference",
                "referenceTo": ["Hub__c"],
                "relationshipName": "Hub__r",
                "nillable": False,
            }
        )
    line = {"name": "Invoice_Line__c", "fields": line_fields}
    schema = Schema([invoice, line, *extra])
    return {s.name: s.describe for s in schema if s.name != "Hub__c"}


@pytest.mark.anyio
async def test_a_required_lookup_saved_through_its_parent(tmp_path: Path) -> None:
    describes = invoice_lines(hub=False)
    with imported(write(tmp_path / "generated_lines", generate(describes.values()))) as module:
        org = LocalOrg()
        for describe in describes.values():
            org.define(describe)
        async with org.client() as sf:
            async with Session(sf):
                invoice = module.Invoice(name="I1")
                invoice.save()
                line = module.InvoiceLine(name="L1", invoice=invoice)  # validates: no id yet
                line.save()
            async with Session(sf) as session:
                saved = await session.one(select(module.InvoiceLine))
        assert saved.invoice_id == invoice.id


def test_read_only_lookups_have_read_only_relationships(files: dict[str, str]) -> None:
    contact = files["contact.py"].splitlines()
    # MasterRecordId is neither createable nor updateable: its relationship is read-only too.
    assert "    master_record_id: Field[Id | None] = Field(None, read_only=True)" in contact
    assert "    master_record: Field[Contact | None] = Field(None, read_only=True)" in contact
    assert "    account: Field[Account | None] = Field(None)" in contact
    committed = (MODELS_DIR / "contact.py").read_text(encoding="utf-8").splitlines()
    assert "    created_by: Field[User | None] = Field(None, read_only=True)" in committed


def test_child_relationships(files: dict[str, str]) -> None:
    account = files["account.py"].splitlines()
    start = next(i for i, line in enumerate(account) if line.startswith("    child_accounts:"))
    children = account[start:]
    assert children == [
        "    child_accounts: Field[list[Account]] = Field(default_factory=list)",
        "    contacts: Field[list[Contact]] = Field(default_factory=list)",
        '    invoices: Field[list[Invoice]] = Field(default_factory=list, api_name="Invoices__r")',
        "    related_invoices: Field[list[Invoice]] = Field(",
        "        default_factory=list,",
        '        api_name="Related_Invoices__r",',
        "    )",
        '    widgets: Field[list[Widget]] = Field(default_factory=list, api_name="Widgets__r")',
    ]
    # Children whose sObject is not generated (Case, Task, Opportunity) are left out.
    assert "cases" not in files["account.py"] and "opportunities" not in files["account.py"]


def test_an_sobject_named_like_an_imported_type(files: dict[str, str]) -> None:
    location = files["location.py"]
    assert "from sobjects.fields import Field, Location\n" in location
    assert 'class Location_(SObject, api_name="Location"):' in location


def test_py_string_quotes_like_ruff() -> None:
    assert py_string("plain") == '"plain"'
    assert py_string('a "b"') == "'a \"b\"'"
    assert py_string("a\\b\n") == '"a\\\\b\\n"'
    assert eval(py_string("é\x00'\"")) == "é\x00'\""


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("\x7f", '"\\x7f"'),
        ("\u2028", '"\\u2028"'),
        ("\U000e0001tag", '"\\U000e0001tag"'),  # a tag character: not \ue000 then "1"
        ("\U0001f600", '"\U0001f600"'),  # printable: kept as it is
    ],
)
def test_py_string_escapes_every_non_printable_character(value: str, literal: str) -> None:
    assert py_string(value) == literal
    assert eval(literal) == value


def test_picklist_aliases_are_never_keywords(tmp_path: Path) -> None:
    values = [{"value": v, "active": True} for v in ("a", "b")]
    picklist = {"type": "picklist", "restrictedPicklist": True, "picklistValues": values}
    describe = {
        "name": "Flag__c",
        "fields": [
            {"name": name, **picklist} for name in ("None__c", "True__c", "False__c", "If__c")
        ],
    }
    files = generate([describe])
    lines = files["flag.py"].splitlines()
    for alias, field in [("FlagNone", "none"), ("FlagTrue", "true"), ("FlagFalse", "false")]:
        assert f'{alias} = Literal["a", "b"]' in lines
        assert f"    {field}: Field[{alias} | None] = Field(None, api_name=" in "\n".join(lines)
    assert 'If = Literal["a", "b"]' in lines  # ``If`` is no keyword
    out = write(tmp_path / "generated_keywords", files)
    done = tool("ruff", "check", "--isolated", "--select", "E,F,I", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    with imported(out) as module:
        assert module.Flag(none="a").none == "a"


def test_imports_sorted_as_ruff_sorts_them(tmp_path: Path) -> None:
    """``Model2`` before ``Model10``, in the package ``__init__`` and in TYPE_CHECKING blocks."""
    hub = {"name": "Hub__c", "fields": [{"name": "Name", "type": "string"}]}
    models = [
        {
            "name": f"Model{n}__c",
            "fields": [
                {
                    "name": "Hub__c",
                    "type": "reference",
                    "referenceTo": ["Hub__c"],
                    "relationshipName": "Hub__r",
                    "childRelationshipName": f"M{n}__r",
                }
            ],
        }
        for n in (2, 10)
    ]
    # Class names that ruff's __all__ sort (RUF022) orders by case before the natural order.
    others = [{"name": name, "fields": []} for name in ("A__c", "ABC__c", "X9__c", "X10__c")]
    files = generate({s.name: s.describe for s in Schema([hub, *models, *others])}.values())
    init = files["__init__.py"]
    assert init.index("from .model2 import Model2") < init.index("from .model10 import Model10")
    hub_source = files["hub.py"]
    assert hub_source.index("from .model2 import") < hub_source.index("from .model10 import")
    out = write(tmp_path / "generated_sorted", files)
    done = tool("ruff", "check", "--isolated", "--select", "I,RUF022", str(out))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Model2", "Model10"),
        ("a", "a0"),
        ("a1b", "a2"),
        ("a015", "a12"),  # a leading zero: digit by digit
        ("x2_g8", "x2_y7"),
        ("pic5", "pic5_07"),
        ("B", "a"),
    ],
)
def test_natord_compare(left: str, right: str) -> None:
    assert natord_compare(left, right) == -1
    assert natord_compare(right, left) == 1
    assert natord_compare(left, left) == 0


# -- the generated package: lint, types, run time ----------------------------------------------


def test_generated_package_passes_ruff_and_mypy(tmp_path: Path, files: dict[str, str]) -> None:
    out = write(tmp_path / "generated_lint", files)
    config = str(ROOT / "pyproject.toml")
    for args in (
        ["check", "--config", config],
        ["format", "--check", "--config", config],
        # ruff's defaults (88 columns) as well: the output is stable at either width.
        ["format", "--check", "--isolated"],
        ["check", "--isolated", "--select", "E,F,W,I,B,UP,SIM,RUF"],
    ):
        done = tool("ruff", *args, str(out))
        assert done.returncode == 0, done.stdout + done.stderr
    # The types a user sees: checked by assignments mypy --strict must accept.
    (tmp_path / "usage.py").write_text(
        "from datetime import date\n"
        "from decimal import Decimal\n\n"
        "from generated_lint import Account, Invoice\n"
        "from generated_lint.invoice import Status\n\n"
        'inv = Invoice(name="INV-1", kind="A", status="Paid", tags={"x"})\n'
        "amount: Decimal | None = inv.amount\n"
        "due: date | None = inv.due\n"
        "status: Status | None = inv.status\n"
        "parent: Account | None = inv.account\n"
        "children: list[Invoice] = inv.child_invoices\n"
        "invoices: list[Invoice] = Account(name='x').invoices\n"
        'condition = Invoice.status == "Paid"\n',
        encoding="utf-8",
    )
    done = tool("mypy", "--strict", str(out), str(tmp_path / "usage.py"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_package_at_run_time(package: ModuleType) -> None:
    invoice = sobject_meta(package.Invoice)
    assert invoice.api_name == "Invoice__c"
    account = invoice.fields["account"]
    assert account.kind == "parent" and account.target is package.Account
    assert account.lookup_api_name == "Account__c"
    assert invoice.fields["child_invoices"].target is package.Invoice
    assert invoice.fields["ext_key"].external_id
    assert invoice.fields["total"].read_only
    assert invoice.fields["where"].annotation == Location | None
    assert sobject_meta(package.Account).fields["invoices"].target is package.Invoice
    assert sobject_meta(package.Widget).fields["account_"].lookup_api_name == "AccountId"
    assert sobject_meta(package.Location_).api_name == "Location"

    ok = package.Invoice(name="INV-1", kind="A", status='Say "hi"', tags="x;y")
    assert ok.tags == {"x", "y"} and ok.paid is False and ok.approved is True
    with pytest.raises(pydantic.ValidationError, match="status"):
        package.Invoice(name="INV-1", kind="A", status="Void")
    missing: dict[str, Any] = {"kind": "A"}
    with pytest.raises(pydantic.ValidationError, match="name"):
        package.Invoice(**missing)
