"""Shaping a local org: schema sources, model classes, seed files, the schema control."""

from __future__ import annotations

import io
import json
import sys
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from sobjects import SObject
from sobjects.emulator import LocalOrg
from sobjects.emulator._request_log import RequestLog
from sobjects.emulator._shape import ShapeError, load_schema, seed
from sobjects.fields import Field, Id

V = "/services/data/v62.0"
DESCRIBES = Path(__file__).parents[2] / "models" / "_describe"


class Account(SObject):
    name: Field[str]
    ext_id: Field[str | None] = Field(None, api_name="Ext_Id__c", external_id=True)


class Widget(SObject, api_name="Widget__c"):
    name: Field[str | None] = Field(None)
    size: Field[Literal["S", "M"] | None] = Field(None, api_name="Size__c")
    weight: Field[float | None] = Field(None, api_name="Weight__c")
    account_id: Field[Id | None] = Field(None, api_name="Account__c")
    account: Field[Account | None] = Field(None, api_name="Account__r")


# -- models ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_define_models_makes_upsert_work() -> None:
    org = LocalOrg()
    org.define_models(Account, Widget)
    assert org.schema.require("Account").require_field("Ext_Id__c").external_id
    widget = org.schema.require("Widget__c")
    assert widget.require_field("Size__c").type == "picklist"
    assert widget.require_field("Weight__c").type == "double"
    assert widget.require_field("Account__c").reference_to == ["Account"]
    async with org.client() as sf:
        first = await sf.sobject.upsert(
            "Account", {"Name": "A", "Ext_Id__c": "X-1"}, external_id_field="Ext_Id__c"
        )
        again = await sf.sobject.upsert(
            "Account", {"Name": "B", "Ext_Id__c": "X-1"}, external_id_field="Ext_Id__c"
        )
        assert first.id == again.id and first.created and not again.created
        await sf.sobject.create("Widget__c", {"Name": "w", "Size__c": "M", "Account__c": first.id})


def test_define_models_keeps_standard_fields_and_takes_a_module() -> None:
    org = LocalOrg()
    before = org.schema.require("Account").require_field("Name").describe
    module = types.ModuleType("shape_models")
    for cls in (Account, Widget):
        setattr(module, cls.__name__, cls)
    module.Account.__module__ = module.Widget.__module__ = "shape_models"  # type: ignore[attr-defined]
    try:
        org.define_models(module)
    finally:
        Account.__module__ = Widget.__module__ = __name__
    assert org.schema.require("Account").require_field("Name").describe == before
    assert "Widget__c" in org.schema


# -- schema sources --------------------------------------------------------------------------


def test_load_schema_from_a_describe_directory_and_file(tmp_path: Path) -> None:
    org = LocalOrg()
    assert load_schema(org, str(DESCRIBES)).endswith("7 sObject(s)")
    describe = {
        "name": "Gadget__c",
        "fields": [{"name": "Code__c", "type": "string", "externalId": True}],
    }
    path = tmp_path / "gadget.json"
    path.write_text(json.dumps(describe))
    load_schema(org, str(path))
    assert org.schema.require("Gadget__c").require_field("Code__c").external_id


def test_load_schema_from_a_module_name() -> None:
    org = LocalOrg()
    assert load_schema(org, "sobjects._demo").endswith("model(s)")
    assert org.schema.require("Account").require_field("Ext_Id__c").external_id


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{nope", "not valid JSON"),
        ('{"label": "x"}', "not an sObject describe"),
    ],
)
def test_load_schema_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "x.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ShapeError, match=message):
        load_schema(LocalOrg(), str(path))


def test_load_schema_unknown_module() -> None:
    with pytest.raises(ShapeError, match="no importable module"):
        load_schema(LocalOrg(), "no_such_pkg_xyz.models")


def test_load_schema_module_from_the_current_directory_or_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shape_cwd_models.py").write_text(
        "from sobjects import SObject\nfrom sobjects.fields import Field\n\n\n"
        "class Part(SObject, api_name='Part__c'):\n"
        "    code: Field[str | None] = Field(None, api_name='Code__c', external_id=True)\n"
    )
    (tmp_path / "shape_broken_models.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    org = LocalOrg()
    load_schema(org, "shape_cwd_models")
    assert org.schema.require("Part__c").require_field("Code__c").external_id
    assert str(tmp_path) not in sys.path  # put back as it was
    with pytest.raises(ShapeError, match="importing it failed: RuntimeError: boom"):
        load_schema(org, "shape_broken_models")


# -- seeds -----------------------------------------------------------------------------------


def test_seed_json_list_dict_and_csv_with_refs(tmp_path: Path) -> None:
    org = LocalOrg()
    (tmp_path / "a.json").write_text(
        json.dumps([{"attributes": {"type": "Account"}, "@ref": "acme", "Name": "Acme"}])
    )
    (tmp_path / "b.json").write_text(
        json.dumps({"Contact": [{"LastName": "Doe", "AccountId": "@ref:acme"}]})
    )
    (tmp_path / "Contact.csv").write_text("LastName,Email,AccountId\nRoe,,@ref:acme\n")
    refs: dict[str, str] = {}
    assert seed(org, str(tmp_path / "a.json"), refs) == 1
    assert seed(org, str(tmp_path / "b.json"), refs) == 1
    assert seed(org, str(tmp_path / "Contact.csv"), refs) == 1
    account = org.store.records("Account")[0]
    contacts = org.store.records("Contact")
    assert [c["AccountId"] for c in contacts] == [account["Id"]] * 2
    assert contacts[1]["Email"] is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("Contact.csv", "LastName,Nope__c\nDoe,1\n", r"Contact\.csv: row 2: .*Nope__c"),
        ("Contact.csv", "LastName\nA\n\n", None),
        ("x.json", '[{"Name": "no type"}]', "record 0: a record needs attributes.type"),
        (
            "x.json",
            '{"Contact": [{"LastName": "A"}, {"Email": "b@x.io"}]}',
            "Contact record 1: .*REQUIRED_FIELD_MISSING",
        ),
        (
            "x.json",
            '{"Contact": [{"LastName": "A", "AccountId": "@ref:nobody"}]}',
            "no earlier seeded record has @ref 'nobody'",
        ),
        ("x.json", '{"Nope__c": [{}]}', "no sObject named 'Nope__c'"),
        ("x.json", "[1,", "not valid JSON"),
        ("Contact.csv", "LastName\nA,B\n", "row 2: more cells than the header"),
    ],
)
def test_seed_errors_name_file_and_row(
    tmp_path: Path, name: str, content: str, message: str | None
) -> None:
    org = LocalOrg()
    path = tmp_path / name
    path.write_text(content)
    if message is None:  # a blank trailing line is no record
        assert seed(org, str(path)) == 1
        return
    with pytest.raises(ShapeError, match=message) as raised:
        seed(org, str(path))
    assert str(path) in str(raised.value)
    assert org.store.records("Contact") == []  # a failed file inserts nothing


# -- POST /__emulator__/schema ---------------------------------------------------------------


@pytest.fixture
async def bare() -> AsyncIterator[tuple[LocalOrg, httpx.AsyncClient]]:
    org = LocalOrg()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=org.app), base_url="http://127.0.0.1"
    ) as client:
        yield org, client


async def post_schema(
    org: LocalOrg, client: httpx.AsyncClient, body: Any, **headers: str
) -> httpx.Response:
    return await client.post(
        "/__emulator__/schema",
        content=json.dumps(body),
        headers={
            "Authorization": f"Bearer {org.admin_token}",
            "Content-Type": "application/json",
            **headers,
        },
    )


@pytest.mark.anyio
async def test_schema_endpoint_defines_objects_and_fields(
    bare: tuple[LocalOrg, httpx.AsyncClient],
) -> None:
    org, client = bare
    body = {
        "objects": [
            {
                "name": "Gadget__c",
                "fields": [{"name": "Code__c", "type": "string", "externalId": True}],
            }
        ],
        "fields": {"Account": [{"name": "Ext_Id__c", "type": "string", "externalId": True}]},
    }
    answer = await post_schema(org, client, body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "ok": True,
        "objects": ["Gadget__c"],
        "fields": {"Account": ["Ext_Id__c"]},
    }
    auth = {"Authorization": f"Bearer {org.access_token}"}
    upserted = await client.patch(
        f"{V}/sobjects/Account/Ext_Id__c/A-1", json={"Name": "A"}, headers=auth
    )
    assert upserted.status_code == 201, upserted.text
    described = await client.get(f"{V}/sobjects/Gadget__c/describe", headers=auth)
    assert described.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({}, "nothing to define"),
        ({"objects": [], "tables": []}, "unknown key(s) tables"),
        ({"objects": {"name": "X__c"}}, "objects must be a list"),
        ({"objects": [{"label": "no name"}]}, "needs a name"),
        ({"fields": {"Account": {"name": "A__c"}}}, "fields must map"),
        ({"fields": {"Nope__c": [{"name": "A__c", "type": "string"}]}}, "Nope__c"),
        # The good object before the bad field is not defined either.
        (
            {"objects": [{"name": "Fine__c"}], "fields": {"Account": [{"type": "string"}]}},
            "no name",
        ),
    ],
)
async def test_schema_endpoint_refuses_bad_bodies_changing_nothing(
    bare: tuple[LocalOrg, httpx.AsyncClient], body: Any, message: str
) -> None:
    org, client = bare
    answer = await post_schema(org, client, body)
    assert answer.status_code == 400
    assert message in answer.json()["error"]
    assert "Fine__c" not in org.schema


@pytest.mark.anyio
async def test_schema_endpoint_is_guarded(bare: tuple[LocalOrg, httpx.AsyncClient]) -> None:
    org, client = bare
    body = {"objects": [{"name": "Sneaky__c"}]}
    no_token = await client.post("/__emulator__/schema", json=body)
    api_token = await client.post(
        "/__emulator__/schema", json=body, headers={"Authorization": f"Bearer {org.access_token}"}
    )
    as_form = await post_schema(org, client, body, **{"Content-Type": "text/plain"})
    assert (no_token.status_code, api_token.status_code, as_form.status_code) == (401, 401, 415)
    assert "Sneaky__c" not in org.schema


# -- request log -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_request_log_writes_a_line_per_request_without_bodies_or_query() -> None:
    org = LocalOrg()
    out = io.StringIO()
    app = RequestLog(org, org.app, out)
    auth = {"Authorization": f"Bearer {org.access_token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        await client.post(f"{V}/sobjects/Contact", json={"LastName": "Secret-Name"}, headers=auth)
        await client.get(
            f"{V}/query",
            params={"q": "SELECT Id FROM Contact WHERE LastName = 'Secret-Name'"},
            headers=auth,
        )
        await client.get(f"{V}/limits")
    assert "Secret" not in out.getvalue()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [
        (entry["method"], entry["path"], entry["status"], entry["api_calls"]) for entry in lines
    ] == [
        ("POST", f"{V}/sobjects/Contact", 201, 1),
        ("GET", f"{V}/query", 200, 1),
        ("GET", f"{V}/limits", 401, 0),
    ]
    assert all(
        set(entry) == {"time", "method", "path", "status", "duration_ms", "api_calls"}
        for entry in lines
    )
    assert all(entry["duration_ms"] >= 0 for entry in lines)


@pytest.mark.anyio
async def test_generated_models_shape_an_empty_org() -> None:
    """The standard models, defined on an org with no schema, give working objects and
    lookups (a parent-child query runs)."""
    org = LocalOrg(schema=[])
    assert load_schema(org, "sobjects.models") == "sobjects.models: 7 model(s)"
    assert org.schema.require("Contact").require_field("AccountId").reference_to == ["Account"]
    async with org.client() as sf:
        account_id = await sf.sobject.create("Account", {"Name": "Acme"})
        await sf.sobject.create("Contact", {"LastName": "Doe", "AccountId": account_id})
        rows = await sf.query("SELECT LastName, Account.Name FROM Contact").all()
    assert [(r["LastName"], r["Account"]["Name"]) for r in rows] == [("Doe", "Acme")]
