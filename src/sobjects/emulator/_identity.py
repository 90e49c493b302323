"""Who the token belongs to: the identity URL (``/id/{orgId}/{userId}``, the token response's
``id``) and the OpenID Connect UserInfo endpoint (``/services/oauth2/userinfo``).

Shapes from Salesforce Help, "Identity URLs" and "Query for User Information" (UserInfo
endpoint): the same facts about the user, in Salesforce's own names (``user_id``,
``username``, ``display_name``...) for the identity URL and in OpenID Connect's (``sub``,
``preferred_username``, ``name``...) for UserInfo; both carry ``urls`` where ``{version}`` is
left for the client to fill in, as Salesforce does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["identity", "userinfo"]


def _urls(instance: str, org_id: str, user_id: str) -> dict[str, str]:
    data = f"{instance}/services/data/v{{version}}"
    return {
        "enterprise": f"{instance}/services/Soap/c/{{version}}/{org_id}",
        "metadata": f"{instance}/services/Soap/m/{{version}}/{org_id}",
        "partner": f"{instance}/services/Soap/u/{{version}}/{org_id}",
        "rest": f"{data}/",
        "sobjects": f"{data}/sobjects/",
        "search": f"{data}/search/",
        "query": f"{data}/query/",
        "recent": f"{data}/recent/",
        "tooling_soap": f"{instance}/services/Soap/T/{{version}}/{org_id}",
        "tooling_rest": f"{data}/tooling/",
        "profile": f"{instance}/{user_id}",
        "feeds": f"{data}/chatter/feeds",
        "groups": f"{data}/chatter/groups",
        "users": f"{data}/chatter/users",
        "feed_items": f"{data}/chatter/feed-items",
        "feed_elements": f"{data}/chatter/feed-elements",
        "custom_domain": instance,
    }


def _photos(instance: str) -> dict[str, str]:
    return {
        "picture": f"{instance}/profilephoto/005/F",
        "thumbnail": f"{instance}/profilephoto/005/T",
    }


def _common(user: Mapping[str, Any], instance: str, org_id: str) -> dict[str, Any]:
    user_id = str(user["Id"])
    return {
        "user_id": user_id,
        "organization_id": org_id,
        "email": user.get("Email"),
        "email_verified": True,
        "photos": _photos(instance),
        "urls": _urls(instance, org_id, user_id),
        "active": bool(user.get("IsActive", True)),
        "user_type": "STANDARD",
        "language": user.get("LanguageLocaleKey") or "en_US",
        "locale": user.get("LocaleSidKey") or "en_US",
        "utcOffset": 0,  # the admin's time zone is GMT
        "is_app_installed": True,
    }


def _name(user: Mapping[str, Any]) -> str:
    return " ".join(str(p) for p in (user.get("FirstName"), user.get("LastName")) if p)


def identity(user: Mapping[str, Any], instance: str, org_id: str) -> dict[str, Any]:
    """The identity URL's answer ("Identity URLs")."""
    user_id = str(user["Id"])
    common = _common(user, instance, org_id)
    return {
        "id": f"{instance}/id/{org_id}/{user_id}",
        "asserted_user": True,
        "user_id": user_id,
        "organization_id": org_id,
        "username": user.get("Username"),
        "nick_name": user.get("Alias") or user.get("Username"),
        "display_name": _name(user),
        "email": user.get("Email"),
        "email_verified": True,
        "first_name": user.get("FirstName"),
        "last_name": user.get("LastName"),
        "timezone": user.get("TimeZoneSidKey") or "GMT",
        "photos": common["photos"],
        "addr_street": None,
        "addr_city": None,
        "addr_state": None,
        "addr_country": None,
        "addr_zip": None,
        "mobile_phone": None,
        "mobile_phone_verified": False,
        "is_lightning_login_user": False,
        "status": {"created_date": None, "body": None},
        "urls": common["urls"],
        "active": common["active"],
        "user_type": common["user_type"],
        "language": common["language"],
        "locale": common["locale"],
        "utcOffset": common["utcOffset"],
        "last_modified_date": user.get("LastModifiedDate"),
        "is_app_installed": True,
    }


def userinfo(user: Mapping[str, Any], instance: str, org_id: str) -> dict[str, Any]:
    """The OpenID Connect UserInfo endpoint's answer ("Query for User Information")."""
    user_id = str(user["Id"])
    common = _common(user, instance, org_id)
    return {
        "sub": f"{instance}/id/{org_id}/{user_id}",
        "user_id": user_id,
        "organization_id": org_id,
        "preferred_username": user.get("Username"),
        "nickname": user.get("Alias") or user.get("Username"),
        "name": _name(user),
        "email": user.get("Email"),
        "email_verified": True,
        "given_name": user.get("FirstName"),
        "family_name": user.get("LastName"),
        "zoneinfo": user.get("TimeZoneSidKey") or "GMT",
        "photos": common["photos"],
        "profile": common["urls"]["profile"],
        "picture": common["photos"]["picture"],
        "address": {},
        "is_salesforce_integration_user": False,
        "urls": common["urls"],
        "active": common["active"],
        "user_type": common["user_type"],
        "language": common["language"],
        "locale": common["locale"],
        "utcOffset": common["utcOffset"],
        "updated_at": user.get("LastModifiedDate"),
        "is_app_installed": True,
    }
