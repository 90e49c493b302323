"""sf.composite.graph(): Composite Graph against the local org and on the wire (§7)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from sobjects import Salesforce
from sobjects.client import CompositeGraph, Graph
from sobjects.emulator import LocalOrg
from sobjects.errors import (
    CompositeLimitError,
    ConfigurationError,
    InvalidFieldError,
    ProcessingHaltedError,
    RequiredFieldMissingError,
    ResponseError,
    ResultNotReadyError,
    ServerError,
    SubrequestErrorGroup,
)

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"


@pytest.fixture
def org() -> LocalOrg:
    org = LocalOrg()
    org.define_field(
        "Account",
        {"name": "Ext_Id__c", "type": "string", "externalId": True, "unique": True, "length": 40},
    )
    return org


@pytest.fixture
async def local(org: LocalOrg) -> AsyncIterator[Salesforce]:
    async with org.client() as sf:
        yield sf


def names(org: LocalOrg, sobject: str = "Account") -> list[str]:
    return sorted(str(r.get("Name") or r.get("LastName")) for r in org.store.records(sobject))


# -- against the local org ---------------------------------------------------------------------


async def test_a_graph_binds_every_node(local: Salesforce, org: LocalOrg) -> None:
    existing = await local.sobject.create("Account", {"Name": "Old"})
    usage = org.api_usage
    async with local.composite.graph() as request:
        graph = request.graph()
        account = graph.sobject.create("Account", {"Name": "Acme"}, reference_id="acct")
        contact = graph.sobject.create(
            "Contact", {"LastName": "Doe", "AccountId": account.reference.id}
        )
        read = graph.sobject.get("Contact", contact.reference.id, fields=["AccountId"])
        renamed = graph.sobject.update("Account", existing, {"Name": "Renamed"})
        upserted = graph.sobject.upsert(
            "Account", {"Ext_Id__c": "E-1", "Name": "Up"}, external_id_field="Ext_Id__c"
        )
        deleted = graph.sobject.delete("Account", account.reference.id)
    assert org.api_usage == usage + 1
    assert isinstance(request, CompositeGraph) and isinstance(graph, Graph)
    assert graph.is_successful and graph.succeeded and graph.error() is None
    assert graph.graph_id == "g0"
    assert [n.reference_id for n in graph] == ["acct", "ref1", "ref2", "ref3", "ref4", "ref5"]
    assert request.subrequests == graph.nodes
    assert read.record["AccountId"] == account.id
    assert contact.status_code == 201 and contact.is_success
    assert renamed.status_code == 204 and deleted.status_code == 204
    assert upserted.created is True
    assert graph.response["graphId"] == "g0"
    assert names(org) == ["Renamed", "Up"]  # Acme was created, then deleted
    assert org.store.get(contact.id)["IsDeleted"] is True  # deleted with its Account


async def test_failed_graphs_apply_nothing_and_others_are_kept(
    local: Salesforce, org: LocalOrg
) -> None:
    request = local.composite.graph()
    ok = request.graph("ok")
    kept = ok.sobject.create("Account", {"Name": "Kept"})
    bad = request.graph("bad")
    undone = bad.sobject.create("Account", {"Name": "Undone"})
    failing = bad.sobject.create("Contact", {"FirstName": "No last name"})
    never = bad.sobject.create("Account", {"Name": "Never"})
    await request.execute()
    assert ok.is_successful and kept.is_success
    assert not bad.is_successful and not bad.halted
    assert bad.failures() == [failing]
    error = bad.error()
    assert isinstance(error, RequiredFieldMissingError)
    assert error.errors[0].fields == ("LastName",)
    with pytest.raises(RequiredFieldMissingError):
        bad.raise_for_status()
    for node in (undone, never):
        assert node.rolled_back and node.status_code == 400
        assert isinstance(node.error(), ProcessingHaltedError)
    assert not failing.rolled_back
    assert request.failures() == [undone, failing, never]
    assert names(org) == ["Kept"]


async def test_autoraise_raises_the_genuine_failure(local: Salesforce, org: LocalOrg) -> None:
    with pytest.raises(RequiredFieldMissingError) as caught:
        async with local.composite.graph(autoraise=True) as request:
            graph = request.graph()
            graph.sobject.create("Account", {"Name": "A"})
            failing = graph.sobject.create("Contact", {})
            request.graph().sobject.create("Account", {"Name": "B"})
    assert caught.value.failed_subrequests == (failing,)
    assert len(caught.value.halted_subrequests) == 1
    assert "3 subrequests: 1 failed, 1 rolled back" in caught.value.__notes__
    assert names(org) == ["B"]
    with pytest.raises(SubrequestErrorGroup) as group:
        async with local.composite.graph(autoraise=True, group_errors=True) as request:
            graph = request.graph()
            graph.sobject.create("Account", {"Name": "C"})
            graph.sobject.create("Account", {"Bogus__c": 1})
    assert [type(e) for e in group.value.exceptions] == [ProcessingHaltedError, InvalidFieldError]


async def test_more_than_one_request_of_graphs(local: Salesforce, org: LocalOrg) -> None:
    usage = org.api_usage
    request = local.composite.graph()
    for g in range(12):
        graph = request.graph()
        for n in range(100):
            graph.sobject.create("Account", {"Name": f"G{g:02d}N{n:03d}"})
    # 500 nodes per request: five graphs of 100 each.
    assert [len(r) for r in request.requests()] == [5, 5, 2]
    await request.execute()
    assert all(graph.is_successful for graph in request.graphs)
    assert org.api_usage == usage + 3
    assert len(names(org)) == 1200
    # 75 graphs per request.
    request = local.composite.graph()
    for n in range(76):
        request.graph().sobject.create("Contact", {"LastName": f"C{n}"})
    assert [len(r) for r in request.requests()] == [75, 1]
    await request.execute()
    assert org.api_usage == usage + 5


async def test_first_fit_packing_and_node_kinds(local: Salesforce, org: LocalOrg) -> None:
    request = local.composite.graph()
    big = [request.graph() for _ in range(2)]
    small = [request.graph() for _ in range(2)]
    for graph, count in zip([*big, *small], [300, 300, 200, 200], strict=True):
        for n in range(count):
            graph.sobject.create("Account", {"Name": f"{graph.graph_id}-{n}"})
    # In order, a graph goes into the first request with room: 2 requests, not 3.
    assert request.requests() == [[big[0], small[0]], [big[1], small[1]]]
    # 16 kinds of node (method and sObject) cannot share a request; a graph's kinds count.
    seeded = {
        sobject: await local.sobject.create(sobject, data)
        for sobject, data in [
            ("Account", {"Name": "S"}),
            ("Contact", {"LastName": "S"}),
            ("Lead", {"LastName": "S", "Company": "S"}),
            ("Case", {}),
        ]
    }
    kinds = local.composite.graph()
    for sobject, record_id in seeded.items():
        kinds.graph().sobject.get(sobject, record_id)
        kinds.graph().sobject.update(sobject, record_id, {})
        kinds.graph().sobject.delete(sobject, record_id)
    for sobject, data in [
        ("Account", {"Name": "New"}),
        ("Contact", {"LastName": "New"}),
        ("Lead", {"LastName": "New", "Company": "New"}),
        ("Case", {}),
    ]:
        kinds.graph().sobject.create(sobject, data)
    assert [len(r) for r in kinds.requests()] == [15, 1]
    await kinds.execute()  # the local org refuses a request of 16 kinds
    assert all(graph.is_successful for graph in kinds.graphs)
    assert kinds.graphs[0].kinds == {("GET", "account")}


async def test_graph_builder_limits(local: Salesforce) -> None:
    request = local.composite.graph()
    graph = request.graph()
    for n in range(500):
        graph.sobject.create("Account", {"Name": str(n)})
    with pytest.raises(CompositeLimitError, match="500"):
        graph.sobject.create("Account", {"Name": "one too many"})
    chain = request.graph()
    node = chain.sobject.create("Account", {"Name": "0"})
    for n in range(1, 15):
        node = chain.sobject.create("Account", {"Name": str(n), "ParentId": node.reference.id})
    assert chain.depth == 15
    with pytest.raises(CompositeLimitError, match="15"):
        chain.sobject.create("Account", {"Name": "16", "ParentId": node.reference.id})
    kinds = request.graph()
    for sobject in ("Account", "Contact", "Lead", "Case", "Task"):
        kinds.sobject.create(sobject, {})
        kinds.sobject.get(sobject, "001000000000000AAA")
        kinds.sobject.delete(sobject, "001000000000000AAA")
    with pytest.raises(CompositeLimitError, match="kinds"):
        kinds.sobject.create("Opportunity", {})
    kinds.sobject.create("Account", {})  # a kind it already has


async def test_graph_builder_refusals(local: Salesforce) -> None:
    request = local.composite.graph()
    one, two = request.graph(), request.graph("custom-1")
    node = one.sobject.create("Account", {"Name": "A"})
    with pytest.raises(ConfigurationError, match="another graph"):
        two.sobject.create("Contact", {"LastName": "X", "AccountId": node.reference.id})
    with pytest.raises(ConfigurationError, match="already used"):
        one.sobject.create("Account", {"Name": "B"}, reference_id=node.reference_id)
    for bad in ("_x", "a.b", "x" * 40, ""):
        with pytest.raises(ConfigurationError):
            request.graph(bad)
    with pytest.raises(ConfigurationError, match="already used"):
        request.graph("custom-1")
    assert request.graph().graph_id == "g2"
    with pytest.raises(ConfigurationError, match="in graphs"):
        request.sobject.create("Account", {"Name": "not in a graph"})
    with pytest.raises(ConfigurationError):
        request.query("SELECT Id FROM Account")
    assert not hasattr(one, "query") and not hasattr(one, "collections")
    with pytest.raises(ConfigurationError, match="headers"):
        one.sobject.create("Account", {"Name": "H"}, headers={"Authorization": "x"})
    with pytest.raises(ResultNotReadyError):
        _ = one.is_successful
    with pytest.raises(ResultNotReadyError):
        _ = node.id
    assert not one.succeeded and not one.done


async def test_after_14_failed_graphs_the_rest_are_halted(local: Salesforce, org: LocalOrg) -> None:
    request = local.composite.graph()
    failing = [request.graph() for _ in range(14)]
    for graph in failing:
        graph.sobject.create("Contact", {})
    halted = [request.graph() for _ in range(2)]
    for graph in halted:
        graph.sobject.create("Account", {"Name": "never"})
    await request.execute()
    assert [g.halted for g in request.graphs] == [False] * 14 + [True, True]
    assert all(not g.is_successful for g in request.graphs)
    assert isinstance(halted[0].error(), ProcessingHaltedError)
    assert isinstance(failing[0].error(), RequiredFieldMissingError)
    assert names(org) == []


async def test_subrequest_faults_fail_the_graph(local: Salesforce, org: LocalOrg) -> None:
    org.faults.fail_subrequests(1, status=500)
    async with local.composite.graph() as request:
        first = request.graph()
        node = first.sobject.create("Account", {"Name": "A"})
        second = request.graph()
        second.sobject.create("Account", {"Name": "B"})
    assert not first.is_successful and isinstance(node.error(), ServerError)
    assert second.is_successful
    assert names(org) == ["B"]


# -- on the wire ---------------------------------------------------------------------------------


def graph_reply(*graphs: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"graphs": list(graphs)})


async def test_the_request_on_the_wire(sf: Salesforce, router: respx.Router) -> None:
    route = router.post(f"{V}/composite/graph").mock(
        return_value=graph_reply(
            {
                "graphId": "1",
                "graphResponse": {
                    "compositeResponse": [
                        {
                            "body": {"id": "001R00000033I6AIAU", "success": True, "errors": []},
                            "httpHeaders": {"Location": f"{V}/sobjects/Account/001R00000033I6AIAU"},
                            "httpStatusCode": 201,
                            "referenceId": "acct",
                        },
                        {
                            "body": None,
                            "httpHeaders": {},
                            "httpStatusCode": 204,
                            "referenceId": "ref1",
                        },
                    ]
                },
                "isSuccessful": True,
            }
        )
    )
    async with sf.composite.graph() as request:
        graph = request.graph("1")
        account = graph.sobject.create("Account", {"Name": "Acme"}, reference_id="acct")
        graph.sobject.update("Account", account.reference.id, {"Phone": "1"})
    assert json.loads(route.calls.last.request.content) == {
        "graphs": [
            {
                "graphId": "1",
                "compositeRequest": [
                    {
                        "method": "POST",
                        "url": f"{V}/sobjects/Account",
                        "referenceId": "acct",
                        "body": {"Name": "Acme"},
                    },
                    {
                        "method": "PATCH",
                        "url": f"{V}/sobjects/Account/@{{acct.id}}",
                        "referenceId": "ref1",
                        "body": {"Phone": "1"},
                    },
                ],
            }
        ]
    }
    assert account.id == "001R00000033I6AIAU" and graph.is_successful


async def test_a_request_refused_whole_leaves_its_graphs_pending(
    sf: Salesforce, router: respx.Router
) -> None:
    route = router.post(f"{V}/composite/graph").mock(
        side_effect=[
            httpx.Response(
                400, json=[{"errorCode": "INVALID_API_INPUT", "message": "too many graphs"}]
            ),
            graph_reply(
                {
                    "graphId": "g0",
                    "graphResponse": {
                        "compositeResponse": [
                            {"body": None, "httpHeaders": {}, "httpStatusCode": 204,
                             "referenceId": "ref0"}
                        ]
                    },
                    "isSuccessful": True,
                }
            ),
        ]
    )  # fmt: skip
    request = sf.composite.graph()
    graph = request.graph()
    node = graph.sobject.delete("Account", "001R00000033I6AIAU")
    with pytest.raises(ResponseError, match="too many graphs"):
        await request.execute()
    assert not graph.done and not node.done  # nothing was applied: send again
    await request.execute()
    assert graph.is_successful and node.status_code == 204
    assert route.call_count == 2


async def test_an_answer_that_does_not_match_is_an_error(
    sf: Salesforce, router: respx.Router
) -> None:
    router.post(f"{V}/composite/graph").mock(return_value=graph_reply())
    request = sf.composite.graph()
    graph = request.graph()
    graph.sobject.create("Account", {"Name": "A"})
    with pytest.raises(ResponseError, match="UNEXPECTED_RESPONSE"):
        await request.execute()
    assert request.executed and not graph.done
    with pytest.raises(ConfigurationError, match="already executed"):
        await request.execute()
