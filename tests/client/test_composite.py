"""Composite with references and allOrNone (salesforce-rest.md section 5)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from sobjects import Salesforce
from sobjects.emulator import LocalOrg
from sobjects.errors import (
    CompositeLimitError,
    ConfigurationError,
    FieldValidationError,
    ProcessingHaltedError,
    RequiredFieldMissingError,
    SubrequestErrorGroup,
)

pytestmark = pytest.mark.anyio

V = "/services/data/v62.0"
ACC = "001R00000033I6AIAU"
CON = "003R00000033I6BIAU"
ROLLED_BACK = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same "
        "transaction failed.",
    }
]


def composite_reply(*items: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"compositeResponse": list(items)})


async def test_references_render_in_bodies_and_urls(sf: Salesforce, router: respx.Router) -> None:
    route = router.post(f"{V}/composite").mock(
        return_value=composite_reply(
            {
                "body": {"id": ACC, "success": True, "errors": []},
                "httpHeaders": {"Location": f"{V}/sobjects/Account/{ACC}"},
                "httpStatusCode": 201,
                "referenceId": "acct",
            },
            {
                "body": {"id": CON, "success": True, "errors": []},
                "httpHeaders": {},
                "httpStatusCode": 201,
                "referenceId": "ref1",
            },
            {
                "body": {"totalSize": 1, "done": True, "records": [{"Id": CON}]},
                "httpHeaders": {},
                "httpStatusCode": 200,
                "referenceId": "ref2",
            },
            {"body": None, "httpHeaders": {}, "httpStatusCode": 204, "referenceId": "ref3"},
        )
    )
    async with sf.composite(all_or_none=True) as composite:
        account = composite.sobject.create("Account", {"Name": "Acme"}, reference_id="acct")
        contact = composite.sobject.create(
            "Contact", {"LastName": "Doe", "AccountId": account.reference.id}
        )
        query = composite.query("SELECT Id FROM Contact WHERE LastName = 'Doe'")
        update = composite.sobject.update(
            "Contact", query.reference.records[0].Id, {"Title": "CEO"}
        )
    payload = json.loads(route.calls.last.request.content)
    assert payload["allOrNone"] is True
    assert payload["collateSubrequests"] is False
    sent = payload["compositeRequest"]
    assert sent[0] == {
        "method": "POST",
        "url": f"{V}/sobjects/Account",
        "referenceId": "acct",
        "body": {"Name": "Acme"},
    }
    assert sent[1]["body"] == {"LastName": "Doe", "AccountId": "@{acct.id}"}
    assert sent[2]["url"].startswith(f"{V}/query?q=SELECT+Id")
    assert sent[3]["url"] == f"{V}/sobjects/Contact/@{{ref2.records[0].Id}}"
    assert account.id == ACC
    assert contact.id == CON
    assert query.records == [{"Id": CON}]
    assert update.status_code == 204 and update.result is None
    assert account.response["httpHeaders"]["Location"].endswith(ACC)


async def test_all_or_none_rollback_codes(sf: Salesforce, router: respx.Router) -> None:
    router.post(f"{V}/composite").mock(
        return_value=composite_reply(
            {"body": ROLLED_BACK, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "ref0"},
            {
                "body": [
                    {
                        "message": "Email: invalid email address: Not a real email address",
                        "errorCode": "INVALID_EMAIL_ADDRESS",
                        "fields": ["Email"],
                    }
                ],
                "httpHeaders": {},
                "httpStatusCode": 400,
                "referenceId": "ref1",
            },
        )
    )
    with pytest.raises(FieldValidationError, match="invalid email") as info:
        async with sf.composite(all_or_none=True, autoraise=True) as composite:
            account = composite.sobject.create("Account", {"Name": "Acme"})
            contact = composite.sobject.create(
                "Contact", {"LastName": "Doe", "Email": "nope", "AccountId": account.reference.id}
            )
    assert info.value.errors[0].fields == ("Email",)
    assert account.status_code == 400
    with pytest.raises(ProcessingHaltedError, match="rolled back"):
        account.raise_for_status()
    assert contact.errors[0].code == "INVALID_EMAIL_ADDRESS"


async def test_group_errors_for_composite(sf: Salesforce, router: respx.Router) -> None:
    router.post(f"{V}/composite").mock(
        return_value=composite_reply(
            {"body": ROLLED_BACK, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "ref0"},
            {
                "body": [{"errorCode": "STRING_TOO_LONG", "message": "too long"}],
                "httpHeaders": {},
                "httpStatusCode": 400,
                "referenceId": "ref1",
            },
        )
    )
    with pytest.raises(SubrequestErrorGroup) as info:
        async with sf.composite(all_or_none=True, autoraise=True, group_errors=True) as c:
            rolled_back = c.sobject.create("Account", {"Name": "Acme"})
            failed = c.sobject.create("Account", {"Name": "x" * 300})
    assert [type(e) for e in info.value.exceptions] == [ProcessingHaltedError, FieldValidationError]
    assert str(info.value) == "2 subrequests: 1 failed, 1 rolled back (2 sub-exceptions)"
    assert info.value.failed_subrequests == (failed,)
    assert info.value.halted_subrequests == (rolled_back,)


async def test_limits_are_checked_before_sending(sf: Salesforce, router: respx.Router) -> None:
    composite = sf.composite()
    for i in range(5):
        composite.query(f"SELECT Id FROM Account LIMIT {i + 1}")
    with pytest.raises(CompositeLimitError, match="at most 5 query or collection"):
        composite.query("SELECT Id FROM Contact")
    with pytest.raises(CompositeLimitError, match="at most 5 query or collection"):
        composite.collections.create("Account", [{"Name": "x"}])
    for i in range(20):
        composite.sobject.create("Account", {"Name": f"A{i}"})
    with pytest.raises(CompositeLimitError, match="at most 25 subrequests"):
        composite.sobject.create("Account", {"Name": "one too many"})
    assert not router.calls


async def test_reference_ids_are_validated(sf: Salesforce) -> None:
    composite = sf.composite()
    composite.sobject.create("Account", {"Name": "A"}, reference_id="NewAccount")
    with pytest.raises(ConfigurationError, match="already used"):
        composite.sobject.create("Account", {"Name": "B"}, reference_id="NewAccount")
    with pytest.raises(ConfigurationError, match="must start with a letter or digit"):
        composite.sobject.create("Account", {"Name": "C"}, reference_id="refNewAccount[1]")
    with pytest.raises(ConfigurationError, match="cannot set headers"):
        composite.sobject.create("Account", {"Name": "D"}, headers={"Authorization": "x"})


async def test_reference_to_another_request_is_refused(sf: Salesforce) -> None:
    other = sf.composite()
    foreign = other.sobject.create("Account", {"Name": "A"})
    composite = sf.composite()
    with pytest.raises(ConfigurationError, match="not an earlier part"):
        composite.sobject.create("Contact", {"LastName": "x", "AccountId": foreign.reference.id})
    with pytest.raises(ConfigurationError, match="not an earlier part"):
        composite.sobject.update("Contact", foreign.reference.id, {"Title": "x"})


async def test_headers_pass_through(sf: Salesforce, router: respx.Router) -> None:
    route = router.post(f"{V}/composite").mock(
        return_value=composite_reply(
            {
                "body": {"id": ACC, "success": True, "errors": []},
                "httpHeaders": {},
                "httpStatusCode": 201,
                "referenceId": "ref0",
            }
        )
    )
    async with sf.composite() as composite:
        composite.sobject.create(
            "Account", {"Name": "A"}, headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"}
        )
    sent = json.loads(route.calls.last.request.content)["compositeRequest"][0]
    assert sent["httpHeaders"] == {"Sforce-Duplicate-Rule-Header": "allowSave=true"}


async def test_collection_subrequests(sf: Salesforce, router: respx.Router) -> None:
    route = router.post(f"{V}/composite").mock(
        return_value=composite_reply(
            {
                "body": [
                    {"id": ACC, "success": True, "errors": []},
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "REQUIRED_FIELD_MISSING",
                                "message": "Required fields are missing: [Name]",
                                "fields": ["Name"],
                            }
                        ],
                    },
                ],
                "httpHeaders": {},
                "httpStatusCode": 200,
                "referenceId": "ref0",
            }
        )
    )
    async with sf.composite() as composite:
        created = composite.collections.create("Account", [{"Name": "A"}, {"Phone": "1"}])
    sent = json.loads(route.calls.last.request.content)["compositeRequest"][0]
    assert sent["url"] == f"{V}/composite/sobjects"
    assert sent["body"]["records"][0] == {"attributes": {"type": "Account"}, "Name": "A"}
    results = created.results
    assert results[0].success and results[0].id == ACC
    assert not results[1].success and results[1].errors[0].code == "REQUIRED_FIELD_MISSING"


async def test_unreported_subrequest_stays_not_done(sf: Salesforce, router: respx.Router) -> None:
    router.post(f"{V}/composite").mock(
        return_value=composite_reply(
            {
                "body": {"id": ACC, "success": True, "errors": []},
                "httpHeaders": {},
                "httpStatusCode": 201,
                "referenceId": "ref0",
            }
        )
    )
    composite = sf.composite()
    first = composite.sobject.create("Account", {"Name": "A"})
    second = composite.sobject.create("Account", {"Name": "B"})
    await composite.execute()
    assert first.done and not second.done


async def test_a_path_reference_from_another_composite_is_refused(sf: Salesforce) -> None:
    # Automatic reference ids repeat across composites: ref0 of c1 must not resolve to ref0
    # of c2 and silently update the wrong record.
    c1 = sf.composite()
    a = c1.sobject.create("Account", {"Name": "A"})
    c2 = sf.composite()
    c2.sobject.create("Account", {"Name": "B"})
    with pytest.raises(ConfigurationError, match="not an earlier part"):
        c2.sobject.update("Account", a.reference.id, {"Name": "renamed"})
    with pytest.raises(ConfigurationError, match="not an earlier part"):
        c2.sobject.delete("Account", a.reference.id)


async def test_references_are_refused_outside_a_composite(
    sf: Salesforce, router: respx.Router
) -> None:
    account = sf.composite().sobject.create("Account", {"Name": "A"})
    with pytest.raises(ConfigurationError, match="only work in sf"):
        await sf.sobject.create("Contact", {"LastName": "x", "AccountId": account.reference.id})
    with pytest.raises(ConfigurationError, match="only work in sf"):
        sf.composite.batch().sobject.update("Account", account.reference.id, {"Name": "x"})
    assert not router.calls


async def test_all_or_none_failure_rolls_back_collection_successes(
    sf: Salesforce, router: respx.Router
) -> None:
    router.post(f"{V}/composite").mock(
        return_value=composite_reply(
            {
                # Salesforce can report inner successes that the outer rollback undid.
                "body": [{"id": CON, "success": True, "errors": []}],
                "httpHeaders": {},
                "httpStatusCode": 200,
                "referenceId": "ref0",
            },
            {
                "body": [{"errorCode": "REQUIRED_FIELD_MISSING", "message": "Name"}],
                "httpHeaders": {},
                "httpStatusCode": 400,
                "referenceId": "ref1",
            },
        )
    )
    composite = sf.composite(all_or_none=True)
    contacts = composite.collections.create("Contact", [{"LastName": "Doe"}])
    composite.sobject.create("Account", {})
    await composite.execute()
    assert contacts.rolled_back
    assert not contacts.is_success
    assert contacts.status_code == 400
    with pytest.raises(ProcessingHaltedError, match="Rolled back"):
        _ = contacts.results
    assert len(composite.failures()) == 2
    # What Salesforce actually said is still there.
    assert contacts.response["httpStatusCode"] == 200


async def test_execute_can_resume_when_nothing_was_sent(
    sf: Salesforce, router: respx.Router
) -> None:
    from sobjects import RetryPolicy
    from sobjects.errors import TransportError

    sf.retry = RetryPolicy(rules=())
    route = router.post(f"{V}/composite").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            composite_reply(
                {
                    "body": {"id": ACC, "success": True, "errors": []},
                    "httpHeaders": {},
                    "httpStatusCode": 201,
                    "referenceId": "ref0",
                }
            ),
        ]
    )
    composite = sf.composite()
    account = composite.sobject.create("Account", {"Name": "A"})
    with pytest.raises(TransportError):
        await composite.execute()
    assert not account.done
    await composite.execute()  # the connection was never made: sending again is safe
    assert account.id == ACC
    assert route.call_count == 2


async def test_an_unknown_outcome_is_never_sent_again(sf: Salesforce, router: respx.Router) -> None:
    from sobjects.errors import OutcomeUnknownError

    route = router.post(f"{V}/composite").mock(side_effect=httpx.ReadTimeout("no answer"))
    composite = sf.composite()
    account = composite.sobject.create("Account", {"Name": "A"})
    with pytest.raises(OutcomeUnknownError, match="may have been applied"):
        await composite.execute()
    with pytest.raises(ConfigurationError, match="already executed"):
        await composite.execute()
    assert not account.done
    assert route.call_count == 1


async def test_composite_calls_wait_longer_than_salesforce_runs_them(
    sf: Salesforce, router: respx.Router
) -> None:
    route = router.post(f"{V}/composite").mock(return_value=composite_reply())
    composite = sf.composite()
    composite.sobject.create("Account", {"Name": "A"})
    await composite.execute()
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout["read"] >= 600  # Salesforce may run a composite for 10 minutes
    assert timeout["connect"] == sf.timeout.connect


async def test_the_dependants_of_a_failure_are_counted_as_not_run() -> None:
    org = LocalOrg()
    async with org.client() as sf:
        composite = sf.composite(autoraise=True, group_errors=True)
        account = composite.sobject.create("Account", {"Industry": "no name"})
        contact = composite.sobject.create(
            "Contact", {"LastName": "Orphan", "AccountId": account.reference.id}
        )
        with pytest.raises(SubrequestErrorGroup) as info:
            await composite.execute()
    assert str(info.value) == "2 subrequests: 1 failed, 1 not run (2 sub-exceptions)"
    assert info.value.failed_subrequests == (account,)
    assert info.value.halted_subrequests == (contact,)
    assert isinstance(account.error(), RequiredFieldMissingError)
    assert isinstance(contact.error(), ProcessingHaltedError)
