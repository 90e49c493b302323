"""Composite Graph and sObject Tree on the local org (salesforce-rest.md §7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from sobjects.emulator import LocalOrg

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
GRAPH = f"{V}/composite/graph"
TREE = f"{V}/composite/tree"
ROLLED_BACK = (
    "The transaction was rolled back since another operation in the same transaction failed."
)


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field(
        "Account",
        {"name": "Ext_Id__c", "type": "string", "externalId": True, "unique": True, "length": 40},
    )
    return org


def node(
    ref: str, method: str, path: str, body: Any = None, *, version: str = "62.0"
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "method": method,
        "url": f"/services/data/v{version}/{path}",
        "referenceId": ref,
    }
    if body is not None:
        item["body"] = body
    return item


def graph(graph_id: str, *nodes: dict[str, Any]) -> dict[str, Any]:
    return {"graphId": graph_id, "compositeRequest": list(nodes)}


def names(org: LocalOrg, sobject: str = "Account") -> list[str]:
    return sorted(str(r.get("Name") or r.get("LastName")) for r in org.store.records(sobject))


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    return dict(body[0])


# -- Composite Graph: shapes ----------------------------------------------------------------------


async def test_a_graph_runs_its_nodes_with_references(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    request = {
        "graphs": [
            graph(
                "g1",
                node("acct", "POST", "sobjects/Account/", {"Name": "Cloudy"}),
                node(
                    "ct",
                    "POST",
                    "sobjects/Contact",
                    {"LastName": "Cashman", "AccountId": "@{acct.id}"},
                ),
                node("read", "GET", "sobjects/Contact/@{ct.id}?fields=LastName,AccountId"),
                node("rename", "PATCH", "sobjects/Account/@{acct.id}", {"Name": "Sunny"}),
                node("up", "PATCH", "sobjects/Account/Ext_Id__c/E-1", {"Name": "Upserted"}),
            )
        ]
    }
    usage = org.api_usage
    response = await http.post(GRAPH, json=request)
    assert response.status_code == 200
    assert org.api_usage == usage + 1  # the whole request is one API call
    [answer] = response.json()["graphs"]
    assert list(answer) == ["graphId", "graphResponse", "isSuccessful"]
    assert answer["graphId"] == "g1"
    assert answer["isSuccessful"] is True
    items = answer["graphResponse"]["compositeResponse"]
    assert [i["referenceId"] for i in items] == ["acct", "ct", "read", "rename", "up"]
    assert [i["httpStatusCode"] for i in items] == [201, 201, 200, 204, 201]
    account_id = items[0]["body"]["id"]
    contact_id = items[1]["body"]["id"]
    assert items[0] == {
        "body": {"id": account_id, "success": True, "errors": []},
        "httpHeaders": {"Location": f"{V}/sobjects/Account/{account_id}"},
        "httpStatusCode": 201,
        "referenceId": "acct",
    }
    assert items[2]["body"] == {
        "attributes": {"type": "Contact", "url": f"{V}/sobjects/Contact/{contact_id}"},
        "LastName": "Cashman",
        "AccountId": account_id,
        "Id": contact_id,
    }
    assert items[2]["httpHeaders"] == {}
    assert items[3]["body"] is None
    assert items[4]["body"]["created"] is True
    assert names(org) == ["Sunny", "Upserted"]


async def test_a_failed_graph_is_rolled_back_and_the_others_are_kept(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    kept = (await http.post(f"{V}/sobjects/Account", json={"Name": "Before"})).json()["id"]
    request = {
        "graphs": [
            graph("ok", node("a", "POST", "sobjects/Account", {"Name": "Committed"})),
            graph(
                "bad",
                node("a", "POST", "sobjects/Account", {"Name": "Undone"}),
                node("rename", "PATCH", f"sobjects/Account/{kept}", {"Name": "Renamed"}),
                node("c", "POST", "sobjects/Contact", {"FirstName": "No last name"}),
                node("d", "DELETE", f"sobjects/Account/{kept}"),
            ),
            graph("also_ok", node("a", "POST", "sobjects/Account", {"Name": "Also"})),
        ]
    }
    response = await http.post(GRAPH, json=request)
    assert response.status_code == 200  # graphs fail inside a 200 answer
    ok, bad, also = response.json()["graphs"]
    assert ok["isSuccessful"] is True and also["isSuccessful"] is True
    assert bad["isSuccessful"] is False
    items = bad["graphResponse"]["compositeResponse"]
    assert [i["referenceId"] for i in items] == ["a", "rename", "c", "d"]
    assert [i["httpStatusCode"] for i in items] == [400, 400, 400, 400]
    assert items[2]["body"] == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]
    # Nodes before the failure (rolled back) and after it (never run) say the same.
    for item in (items[0], items[1], items[3]):
        assert item["body"] == [{"message": ROLLED_BACK, "errorCode": "PROCESSING_HALTED"}]
        assert item["httpHeaders"] == {}
    assert names(org) == ["Also", "Before", "Committed"]  # no "Undone", not renamed
    assert org.store.get(kept)["IsDeleted"] is False


async def test_an_unresolved_reference_fails_its_graph(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    request = {
        "graphs": [
            graph(
                "g",
                node("a", "POST", "sobjects/Account", {"Name": "Undone"}),
                # A create result has "id", not "Id" (references are case-sensitive).
                node("c", "POST", "sobjects/Contact", {"LastName": "X", "AccountId": "@{a.Id}"}),
            ),
            # A graph cannot see another graph's results.
            graph("other", node("c", "POST", "sobjects/Contact", {"LastName": "Y",
                                                                  "AccountId": "@{a.id}"})),
        ]
    }  # fmt: skip
    first, other = (await http.post(GRAPH, json=request)).json()["graphs"]
    assert first["isSuccessful"] is False and other["isSuccessful"] is False
    failed = first["graphResponse"]["compositeResponse"][1]
    assert failed["httpStatusCode"] == 400
    assert failed["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert failed["body"][0]["message"].startswith("Invalid reference specified. No value for a.Id")
    assert other["graphResponse"]["compositeResponse"][0]["body"][0]["message"].startswith(
        "Invalid reference specified"
    )
    assert names(org) == [] and names(org, "Contact") == []


async def test_a_rolled_back_graph_restores_updates_and_deletes(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    account = (await http.post(f"{V}/sobjects/Account", json={"Name": "Kept"})).json()["id"]
    request = {
        "graphs": [
            graph(
                "g",
                node("u", "PATCH", f"sobjects/Account/{account}", {"Name": "Changed"}),
                node("d", "DELETE", f"sobjects/Account/{account}"),
                node("x", "GET", "sobjects/Account/Ext_Id__c/NOPE"),  # 404 fails the graph
            )
        ]
    }
    [answer] = (await http.post(GRAPH, json=request)).json()["graphs"]
    assert answer["isSuccessful"] is False
    statuses = [i["httpStatusCode"] for i in answer["graphResponse"]["compositeResponse"]]
    assert statuses == [400, 400, 404]
    record = org.store.get(account)
    assert record["Name"] == "Kept" and record["IsDeleted"] is False


async def test_after_14_failed_graphs_the_rest_are_not_processed(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    failing = [
        graph(f"bad{n}", node("c", "POST", "sobjects/Contact", {"FirstName": "x"}))
        for n in range(14)
    ]
    valid = [graph(f"ok{n}", node("a", "POST", "sobjects/Account", {"Name": f"A{n}"}))
             for n in range(2)]  # fmt: skip
    answers = (await http.post(GRAPH, json={"graphs": failing + valid})).json()["graphs"]
    assert [a["graphId"] for a in answers] == [g["graphId"] for g in failing + valid]
    assert [a["isSuccessful"] for a in answers] == [False] * 16
    for answer in answers[:14]:
        [item] = answer["graphResponse"]["compositeResponse"]
        assert item["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    for answer in answers[14:]:
        [item] = answer["graphResponse"]["compositeResponse"]
        assert item["httpStatusCode"] == 400
        assert item["body"][0]["errorCode"] == "PROCESSING_HALTED"
        assert "14 graphs" in item["body"][0]["message"]
    assert names(org) == []  # the halted graphs did not run
    # With 13 failures, the graphs after them still run.
    answers = (await http.post(GRAPH, json={"graphs": failing[1:] + valid})).json()["graphs"]
    assert [a["isSuccessful"] for a in answers] == [False] * 13 + [True, True]
    assert names(org) == ["A0", "A1"]


async def test_the_same_reference_id_may_be_used_in_two_graphs(http: httpx.AsyncClient) -> None:
    request = {
        "graphs": [
            graph("g1", node("a", "POST", "sobjects/Account", {"Name": "One"})),
            graph("g2", node("a", "POST", "sobjects/Account", {"Name": "Two"})),
        ]
    }
    answers = (await http.post(GRAPH, json=request)).json()["graphs"]
    assert [a["isSuccessful"] for a in answers] == [True, True]


# -- Composite Graph: limits and refusals ----------------------------------------------------------


def creates(count: int, prefix: str = "A") -> list[dict[str, Any]]:
    return [
        node(f"n{i}", "POST", "sobjects/Account", {"Name": f"{prefix}{i}"}) for i in range(count)
    ]


async def refused(http: httpx.AsyncClient, org: LocalOrg, request: Any) -> dict[str, Any]:
    """POST ``request``: it must be refused whole (400, nothing created), for one API call."""
    usage = org.api_usage
    response = await http.post(GRAPH, json=request)
    assert response.status_code == 400, response.text
    assert org.api_usage == usage + 1
    assert names(org) == []
    return only_error(response)


async def test_graph_node_limits(http: httpx.AsyncClient, org: LocalOrg) -> None:
    error = await refused(http, org, {"graphs": [graph("g", *creates(501))]})
    assert error["errorCode"] == "INVALID_API_INPUT"
    assert "500" in error["message"]
    # 500 in one payload, spread over graphs: 250 + 251 is one too many.
    two = {"graphs": [graph("g1", *creates(250)), graph("g2", *creates(251, "B"))]}
    assert "500" in (await refused(http, org, two))["message"]
    usage = org.api_usage
    response = await http.post(GRAPH, json={"graphs": [graph("g", *creates(500))]})
    assert response.json()["graphs"][0]["isSuccessful"] is True
    assert org.api_usage == usage + 1  # 500 records for one API call
    assert len(names(org)) == 500


async def test_graph_count_limit(http: httpx.AsyncClient, org: LocalOrg) -> None:
    many = [graph(f"g{i}", *creates(1)) for i in range(76)]
    assert "75" in (await refused(http, org, {"graphs": many}))["message"]
    response = await http.post(GRAPH, json={"graphs": many[:75]})
    assert [a["isSuccessful"] for a in response.json()["graphs"]] == [True] * 75


def chain(length: int) -> list[dict[str, Any]]:
    """Accounts each referencing the previous one: a graph ``length`` deep."""
    nodes = [node("n0", "POST", "sobjects/Account", {"Name": "A0"})]
    for i in range(1, length):
        body = {"Name": f"A{i}", "ParentId": f"@{{n{i - 1}.id}}"}
        nodes.append(node(f"n{i}", "POST", "sobjects/Account", body))
    return nodes


async def test_graph_depth_limit(http: httpx.AsyncClient, org: LocalOrg) -> None:
    error = await refused(http, org, {"graphs": [graph("g", *chain(16))]})
    assert "deep" in error["message"] and "15" in error["message"]
    response = await http.post(GRAPH, json={"graphs": [graph("g", *chain(15))]})
    assert response.json()["graphs"][0]["isSuccessful"] is True
    accounts = {r["Name"]: r for r in org.store.records("Account")}
    assert accounts["A14"]["ParentId"] == accounts["A13"]["Id"]


async def test_node_kind_limit(http: httpx.AsyncClient, org: LocalOrg) -> None:
    # A kind is (API version, method, sObject): 12 versions of an Account create + 3 others.
    kinds = [
        node(f"v{n}", "POST", "sobjects/Account", {"Name": f"V{n}"}, version=f"{n}.0")
        for n in range(51, 63)
    ]
    kinds += [
        node("c", "POST", "sobjects/Contact", {"LastName": "C"}),
        node("l", "POST", "sobjects/Lead", {"LastName": "L", "Company": "Co"}),
        node("k", "POST", "sobjects/Case", {}),
    ]
    response = await http.post(GRAPH, json={"graphs": [graph("g", *kinds)]})
    assert response.json()["graphs"][0]["isSuccessful"] is True  # 15 kinds
    created = len(names(org))
    extra = node("v50", "POST", "sobjects/Account", {"Name": "V50"}, version="50.0")
    usage = org.api_usage
    response = await http.post(GRAPH, json={"graphs": [graph("g", *kinds), graph("h", extra)]})
    assert response.status_code == 400
    assert "16" in only_error(response)["message"]
    assert org.api_usage == usage + 1
    assert len(names(org)) == created  # nothing ran


@pytest.mark.parametrize(
    "graph_id",
    ["_starts_with_underscore", "has.period", "x" * 40, "", " space"],
)
async def test_bad_graph_ids_are_refused(
    http: httpx.AsyncClient, org: LocalOrg, graph_id: str
) -> None:
    error = await refused(http, org, {"graphs": [graph(graph_id, *creates(1))]})
    assert error["errorCode"] == "INVALID_API_INPUT"


async def test_graph_id_rules(http: httpx.AsyncClient, org: LocalOrg) -> None:
    duplicate = {"graphs": [graph("g", *creates(1)), graph("g", *creates(1, "B"))]}
    assert "Duplicate graphId" in (await refused(http, org, duplicate))["message"]
    not_a_string = {"graphs": [{"graphId": 1, "compositeRequest": creates(1)}]}
    assert (await refused(http, org, not_a_string))["errorCode"] == "JSON_PARSER_ERROR"
    fine = {"graphs": [graph("x" * 39, *creates(1)), graph("1-graph id", *creates(1, "B"))]}
    answers = (await http.post(GRAPH, json=fine)).json()["graphs"]
    assert [a["isSuccessful"] for a in answers] == [True, True]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "query?q=SELECT+Id+FROM+Account"),
        ("POST", "composite/sobjects"),
        ("GET", "sobjects/Account/describe"),
        ("GET", "sobjects/Account"),
        ("PUT", "sobjects/Account/001000000000000AAA"),
        ("POST", "sobjects/Account/001000000000000AAA"),
        ("HEAD", "sobjects/Account/001000000000000AAA"),
        ("GET", "limits"),
        ("post", "sobjects/Account"),  # methods are case-sensitive
    ],
)
async def test_only_sobject_nodes_are_allowed(
    http: httpx.AsyncClient, org: LocalOrg, method: str, path: str
) -> None:
    request = {"graphs": [graph("g", *creates(1), node("x", method, path, {"Name": "X"}))]}
    error = await refused(http, org, request)
    assert error["errorCode"] == "INVALID_API_INPUT"


async def test_node_versions_and_envelope(http: httpx.AsyncClient, org: LocalOrg) -> None:
    newer = {"graphs": [graph("g", node("a", "POST", "sobjects/Account", {}, version="63.0"))]}
    assert "v63.0" in (await refused(http, org, newer))["message"]
    older = {"graphs": [graph("g", node("a", "POST", "sobjects/Account", {}, version="49.0"))]}
    assert "v49.0" in (await refused(http, org, older))["message"]
    bad_ref = {"graphs": [graph("g", node("a b", "POST", "sobjects/Account", {"Name": "A"}))]}
    assert (await refused(http, org, bad_ref))["errorCode"] == "JSON_PARSER_ERROR"
    twice = {"graphs": [graph("g", *creates(1), *creates(1, "B"))]}
    assert "Duplicate referenceId" in (await refused(http, org, twice))["message"]
    for envelope in ({}, {"graphs": {}}, {"graphs": [1]}, [], {"graphs": []},
                     {"graphs": [{"graphId": "g", "compositeRequest": []}]}):  # fmt: skip
        await refused(http, org, envelope)
    headers = node("a", "POST", "sobjects/Account", {"Name": "A"})
    headers["httpHeaders"] = {"Content-Type": "text/plain"}
    assert (await refused(http, org, {"graphs": [graph("g", headers)]}))["errorCode"]


async def test_graph_resource_methods_and_versions(http: httpx.AsyncClient, org: LocalOrg) -> None:
    response = await http.get(GRAPH)
    assert response.status_code == 405
    assert only_error(response)["errorCode"] == "METHOD_NOT_ALLOWED"
    # Composite Graph exists from API 50.0.
    old = await http.post("/services/data/v49.0/composite/graph", json={"graphs": []})
    assert old.status_code == 404
    assert only_error(old)["errorCode"] == "NOT_FOUND"
    listing = (await http.get(f"{V}/composite")).json()
    assert listing["graph"] == GRAPH and listing["tree"] == TREE


# -- Composite Graph: faults and persistence ------------------------------------------------------


async def test_fail_subrequests_applies_to_graph_nodes(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    org.faults.fail_subrequests(1, status=500)
    request = {
        "graphs": [
            graph("g1", *creates(2)),  # its first node fails: the graph is rolled back
            graph("g2", *creates(1, "B")),
        ]
    }
    first, second = (await http.post(GRAPH, json=request)).json()["graphs"]
    assert first["isSuccessful"] is False
    items = first["graphResponse"]["compositeResponse"]
    assert items[0]["httpStatusCode"] == 500
    assert items[0]["body"][0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert items[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert second["isSuccessful"] is True
    assert names(org) == ["B0"]
    assert org.faults.pending()["fail_subrequests"] == []


async def test_locks_fail_graph_nodes(http: httpx.AsyncClient, org: LocalOrg) -> None:
    account = (await http.post(f"{V}/sobjects/Account", json={"Name": "Locked"})).json()["id"]
    org.faults.lock_record(account)
    org.faults.lock_creates("Contact")
    request = {
        "graphs": [
            graph("g1", node("u", "PATCH", f"sobjects/Account/{account}", {"Name": "X"})),
            graph("g2", *creates(1), node("c", "POST", "sobjects/Contact", {"LastName": "C"})),
            graph("g3", node("u", "PATCH", f"sobjects/Account/{account}", {"Name": "Y"})),
        ]
    }
    g1, g2, g3 = (await http.post(GRAPH, json=request)).json()["graphs"]
    [locked] = g1["graphResponse"]["compositeResponse"]
    assert locked["body"][0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert g2["isSuccessful"] is False
    assert g2["graphResponse"]["compositeResponse"][1]["body"][0]["errorCode"] == (
        "UNABLE_TO_LOCK_ROW"
    )
    assert g3["isSuccessful"] is True  # each lock was for one write
    assert names(org) == ["Y"]


async def test_only_successful_graphs_are_journaled(tmp_path: Path) -> None:
    data = tmp_path / "org.jsonl"
    with LocalOrg(data=data) as org:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=org.app),
            base_url="http://127.0.0.1",
            headers={"Authorization": f"Bearer {org.access_token}"},
        ) as http:
            request = {
                "graphs": [
                    graph("ok", *creates(2)),
                    graph("bad", *creates(1, "B"), node("c", "POST", "sobjects/Contact", {})),
                ]
            }
            answers = (await http.post(GRAPH, json=request)).json()["graphs"]
            assert [a["isSuccessful"] for a in answers] == [True, False]
    with LocalOrg(data=data) as restarted:
        assert names(restarted) == ["A0", "A1"]  # not B0, rolled back with its graph
        assert names(restarted, "Contact") == []


# -- sObject Tree ----------------------------------------------------------------------------------


def record(ref: str, sobject: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": sobject, "referenceId": ref}, **fields}


async def test_tree_creates_nested_records_level_by_level(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    body = {
        "records": [
            record(
                "ref1",
                "Account",
                Name="SampleAccount1",
                Contacts={"records": [record("ref2", "Contact", LastName="Smith"),
                                      record("ref3", "Contact", LastName="Evans")]},
            ),
            record(
                "ref4",
                "Account",
                Name="SampleAccount2",
                ChildAccounts={"records": [record("ref5", "Account", Name="Child")]},
                Contacts={"records": [record("ref6", "Contact", LastName="Jones")]},
            ),
        ]
    }  # fmt: skip
    usage = org.api_usage
    response = await http.post(f"{TREE}/Account", json=body)
    assert response.status_code == 201
    assert org.api_usage == usage + 1
    result = response.json()
    assert result["hasErrors"] is False
    # Roots first, then the second level, each in request order.
    refs = [r["referenceId"] for r in result["results"]]
    assert refs == ["ref1", "ref4", "ref2", "ref3", "ref5", "ref6"]
    ids = {r["referenceId"]: r["id"] for r in result["results"]}
    assert all(len(i) == 18 for i in ids.values())
    assert ids["ref1"].startswith("001") and ids["ref2"].startswith("003")
    store = org.store
    assert store.get(ids["ref2"])["AccountId"] == ids["ref1"]
    assert store.get(ids["ref3"])["AccountId"] == ids["ref1"]
    assert store.get(ids["ref5"])["ParentId"] == ids["ref4"]
    assert store.get(ids["ref6"])["AccountId"] == ids["ref4"]
    assert store.get(ids["ref5"])["Name"] == "Child"


async def test_tree_failure_names_the_record_and_creates_nothing(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    body = {
        "records": [
            record("ref1", "Account", Name="A",
                   Contacts={"records": [record("ref2", "Contact", LastName="Ok"),
                                         record("ref3", "Contact", LastName="X",
                                                Email="123")]}),
        ]
    }  # fmt: skip
    usage = org.api_usage
    response = await http.post(f"{TREE}/Account", json=body)
    assert response.status_code == 400
    assert org.api_usage == usage + 1
    assert response.json() == {
        "hasErrors": True,
        "results": [
            {
                "referenceId": "ref3",
                "errors": [
                    {
                        "statusCode": "INVALID_EMAIL_ADDRESS",
                        "message": "Email: invalid email address: 123",
                        "fields": ["Email"],
                    }
                ],
            }
        ],
    }  # Salesforce's own example of a failure
    assert names(org) == [] and names(org, "Contact") == []


async def test_tree_reference_ids_and_types_are_checked(
    http: httpx.AsyncClient, org: LocalOrg
) -> None:
    body = {
        "records": [
            record("dup", "Account", Name="A", Contacts={"records": [
                record("dup", "Contact", LastName="B"),
                record("bad ref", "Contact", LastName="C"),
                record("wrong", "Account", Name="D"),
            ]}),
            record("root", "Contact", LastName="E"),
            {"Name": "no attributes"},
        ]
    }  # fmt: skip
    response = await http.post(f"{TREE}/Account", json=body)
    assert response.status_code == 400
    result = response.json()
    assert result["hasErrors"] is True
    by_ref = [(r["referenceId"], r["errors"][0]["statusCode"]) for r in result["results"]]
    assert ("bad ref", "INVALID_INPUT") in by_ref
    assert ("wrong", "INVALID_TYPE") in by_ref  # not a Contact under Contacts
    assert ("root", "INVALID_TYPE") in by_ref  # roots are of the URL's sObject
    assert (None, "INVALID_INPUT") in by_ref
    # One item for each instance of a duplicate referenceId.
    assert by_ref.count(("dup", "INVALID_INPUT")) == 2
    for item in result["results"]:
        assert set(item["errors"][0]) == {"statusCode", "message", "fields"}
    assert names(org) == [] and names(org, "Contact") == []


async def test_tree_limits(http: httpx.AsyncClient, org: LocalOrg) -> None:
    def accounts(count: int) -> dict[str, Any]:
        return {"records": [record(f"r{i}", "Account", Name=f"A{i}") for i in range(count)]}

    usage = org.api_usage
    response = await http.post(f"{TREE}/Account", json=accounts(201))
    assert response.status_code == 400
    assert only_error(response)["errorCode"] == "LIMIT_EXCEEDED"
    assert names(org) == [] and org.api_usage == usage + 1
    response = await http.post(f"{TREE}/Account", json=accounts(200))
    assert response.status_code == 201 and len(names(org)) == 200

    def nested(levels: int) -> dict[str, Any]:
        tree = record(f"l{levels}", "Account", Name=f"L{levels}")
        for level in range(levels - 1, 0, -1):
            tree = record(f"l{level}", "Account", Name=f"L{level}",
                          ChildAccounts={"records": [tree]})  # fmt: skip
        return {"records": [tree]}

    response = await http.post(f"{TREE}/Account", json=nested(6))
    assert response.status_code == 400
    assert "5 levels" in only_error(response)["message"]
    response = await http.post(f"{TREE}/Account", json=nested(5))
    assert response.status_code == 201
    ids = {r["referenceId"]: r["id"] for r in response.json()["results"]}
    assert org.store.get(ids["l5"])["ParentId"] == ids["l4"]


async def test_tree_type_limit(http: httpx.AsyncClient, org: LocalOrg) -> None:
    org.define(
        {
            "name": "Visit__c",
            "fields": [
                {"name": "Name", "type": "string"},
                {
                    "name": "Account__c",
                    "type": "reference",
                    "referenceTo": ["Account"],
                    "relationshipName": "Account__r",
                    "childRelationshipName": "Visits__r",
                },
            ],
        }
    )
    children = {
        "Contacts": {"records": [record("c", "Contact", LastName="C")]},
        "Opportunities": {"records": [record("o", "Opportunity", Name="O",
                                             StageName="Prospecting", CloseDate="2024-01-01")]},
        "Cases": {"records": [record("k", "Case")]},
        "Tasks": {"records": [record("t", "Task", Subject="T")]},
    }  # fmt: skip
    five = {"records": [record("a", "Account", Name="A", **children)]}
    response = await http.post(f"{TREE}/Account", json=five)
    assert response.status_code == 201, response.text
    six = {
        "records": [
            record(
                "b",
                "Account",
                Name="B",
                **children,
                Visits__r={"records": [record("v", "Visit__c", Name="V")]},
            )
        ]
    }
    response = await http.post(f"{TREE}/Account", json=six)
    assert response.status_code == 400
    assert only_error(response)["errorCode"] == "LIMIT_EXCEEDED"
    assert "5 types" in only_error(response)["message"]


async def test_tree_resource_errors(http: httpx.AsyncClient, org: LocalOrg) -> None:
    one = {"records": [record("r", "Account", Name="A")]}
    unknown = await http.post(f"{TREE}/Nope__c", json=one)
    assert unknown.status_code == 404
    assert only_error(unknown)["errorCode"] == "NOT_FOUND"
    wrong_method = await http.get(f"{TREE}/Account")
    assert wrong_method.status_code == 405
    bad_children = record("r", "Account", Name="A", Contacts={"records": 1})
    for body in ({}, {"records": {}}, {"records": [1]}, {"records": []}, [],
                 {"records": [bad_children]}):  # fmt: skip
        response = await http.post(f"{TREE}/Account", json=body)
        assert response.status_code == 400, body
        assert isinstance(response.json(), list)
    with_id = {"records": [record("r", "Account", Name="A", Id="001000000000000AAA")]}
    response = await http.post(f"{TREE}/Account", json=with_id)
    assert response.json()["results"][0]["errors"][0]["statusCode"] == (
        "INVALID_FIELD_FOR_INSERT_UPDATE"
    )
    unknown_field = {"records": [record("r", "Account", Name="A", Bogus__c=1)]}
    response = await http.post(f"{TREE}/Account", json=unknown_field)
    assert response.json()["results"][0]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert names(org) == []


async def test_tree_lock_creates(http: httpx.AsyncClient, org: LocalOrg) -> None:
    org.faults.lock_creates("Contact")
    body = {
        "records": [
            record("a", "Account", Name="A",
                   Contacts={"records": [record("c", "Contact", LastName="C")]}),
        ]
    }  # fmt: skip
    response = await http.post(f"{TREE}/Account", json=body)
    assert response.status_code == 400
    [failure] = response.json()["results"]
    assert failure["referenceId"] == "c"
    assert failure["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert names(org) == []  # the Account created first was rolled back
    response = await http.post(f"{TREE}/Account", json=body)
    assert response.status_code == 201  # the lock was for one create
