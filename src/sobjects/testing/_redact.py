"""Redaction: what of a live request or answer a cassette may hold.

Two nets, one under the other:

1. **By key.** The value under a secret key becomes ``REDACTED`` in request bodies, forms and
   query strings, and in answers. A key is secret when its name, ignoring case, ``_``, ``-`` and
   a custom field's ``__c``, ends with ``password``, ``token`` or ``secret``, or is ``sid`` or
   ``sessionId``. In auth traffic (the OAuth endpoints under ``/services/oauth2/``, and a
   user's ``password`` resource) ``username``, ``client_id``, ``assertion``, ``code``,
   ``code_verifier``, ``signature`` and the token reply's ``id`` are secret too; elsewhere
   they are data (a User's ``Username`` and ``Signature`` fields). A request's value is
   redacted even when empty, so that a replay matches whatever credentials it is given (CI may
   have none).
2. **By value.** Every secret value *learned* is then replaced wherever else it appears in the
   cassette, raw or percent-encoded (a username in a SOQL ``WHERE`` of a query string). Values
   are learned from the ``Authorization`` header, from requests under secret keys, and from
   auth traffic's answers; never from data answers, whose values are data.

>>> redactor = Redactor()
>>> redactor.is_secret("NewPassword"), redactor.is_secret("token_type")
(True, False)
>>> redactor.is_secret("Username"), redactor.is_secret("Username", auth=True)
(False, True)
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

import httpx

__all__ = ["REDACTED", "REDACTED_ORIGIN", "Redactor", "is_auth_path"]

REDACTED = "REDACTED"
# Where the instance's origin stood, once redacted (``redact_host=True``).
REDACTED_ORIGIN = "https://instance.example.invalid"

# Key names (normalized: lower case, no "_" or "-", no "__c") that are secret everywhere...
_SECRET_ENDINGS = ("password", "token", "secret")
_SECRET_NAMES = frozenset({"sid", "sessionid"})
# ... and those secret only in auth traffic: credentials there, data elsewhere.
_AUTH_SECRET_NAMES = frozenset(
    {"username", "clientid", "assertion", "code", "codeverifier", "signature", "id"}
)
# A user's password resource (set, reset, read its expiry) is auth traffic too.
_PASSWORD_RESOURCE = re.compile(r"/sobjects/(?:User|SelfServiceUser)/[^/]+/password/?$")
# Request headers worth keeping (the rest, Authorization and cookies first, are dropped).
KEPT_REQUEST_HEADERS = ("content-type", "sforce-")
# Response headers worth keeping: what a client reads (Bulk API paging: Sforce-Locator).
KEPT_RESPONSE_HEADERS = ("content-type", "sforce-", "retry-after", "location")
# Login hosts are public; only the org's own host is redacted.
PUBLIC_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})
# Shorter values (a username "a") would blank out unrelated text; they are still redacted
# under their own key.
_MIN_LEARNED = 6


def is_auth_path(path: str) -> bool:
    """Whether a request path (without the query) is auth traffic."""
    return path.startswith("/services/oauth2/") or bool(_PASSWORD_RESOURCE.search(path))


def _normalized(key: str) -> str:
    key = key.lower()
    return key.removesuffix("__c").replace("_", "").replace("-", "")


class Redactor:
    """Turns live requests and answers into what a cassette may hold (see the module).

    ``request`` and ``response`` redact by key and learn secret values; ``scrub`` then
    replaces the learned values (and, with ``redact_host``, the org's origin) everywhere.
    """

    def __init__(self, *, redact_host: bool = False) -> None:
        self.redact_host = redact_host
        self.secrets: set[str] = set()
        self.origins: set[str] = set()

    @staticmethod
    def is_secret(key: str, *, auth: bool = False) -> bool:
        name = _normalized(key)
        return (
            name.endswith(_SECRET_ENDINGS)
            or name in _SECRET_NAMES
            or (auth and name in _AUTH_SECRET_NAMES)
        )

    # -- requests -------------------------------------------------------------------------

    def request(self, request: httpx.Request) -> tuple[str, str, Any, dict[str, str]]:
        """(method, path with query, body, kept headers) of a request, redacted by key."""
        url = request.url
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        if url.host not in PUBLIC_HOSTS:
            self.origins.add(origin)
        auth_header = request.headers.get("authorization", "")
        if " " in auth_header:
            self._learn(auth_header.split(" ", 1)[1])
        auth = is_auth_path(url.path)
        path = url.path
        if url.query:
            path += "?" + self._query(url.query.decode("ascii"), auth)
        body = self._request_body(request, auth)
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower().startswith(KEPT_REQUEST_HEADERS)
        }
        return request.method, path, body, headers

    def _request_body(self, request: httpx.Request, auth: bool) -> Any:
        content = request.content
        if not content:
            return None
        kind = request.headers.get("content-type", "")
        text = content.decode("utf-8", errors="replace")
        if kind.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(text, keep_blank_values=True))
            return {"form": self._sent(form, auth)}
        try:
            return self._sent(json.loads(text), auth)
        except ValueError:
            return text

    def _query(self, query: str, auth: bool) -> str:
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode([(key, self._sent_under(key, value, auth)) for key, value in pairs])

    def _sent_under(self, key: str, value: Any, auth: bool) -> Any:
        """A request's value under ``key``: a secret key's redacted even when empty (and
        learned)."""
        if self.is_secret(key, auth=auth):
            self._learn_all(value)
            return REDACTED
        return self._sent(value, auth)

    def _sent(self, value: Any, auth: bool) -> Any:
        if isinstance(value, dict):
            return {key: self._sent_under(key, item, auth) for key, item in value.items()}
        if isinstance(value, list):
            return [self._sent(item, auth) for item in value]
        return value

    # -- answers --------------------------------------------------------------------------

    def response(self, path: str, response: httpx.Response) -> tuple[dict[str, str], Any]:
        """(kept headers, body) of an answer to a request for ``path`` (no query), redacted
        by key. Only auth traffic's answers teach secret values."""
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower().startswith(KEPT_RESPONSE_HEADERS)
        }
        if not response.content:
            return headers, None
        try:
            body = json.loads(response.content)
        except ValueError:
            return headers, response.text
        if isinstance(body, dict) and isinstance(body.get("instance_url"), str):
            parts = urlsplit(body["instance_url"])
            if parts.hostname not in PUBLIC_HOSTS:
                self.origins.add(f"{parts.scheme}://{parts.netloc}")
        return headers, self._answered(body, is_auth_path(path))

    def _answered(self, value: Any, auth: bool) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if auth and self.is_secret(key, auth=True) and item is not None:
                    self._learn_all(item)
                    out[key] = REDACTED
                elif not auth and self.is_secret(key) and isinstance(item, str) and item:
                    # A data answer's value under a secret key is hidden, never learned,
                    # and only when it is text: a boolean ``HasPassword`` stays data.
                    out[key] = REDACTED
                else:
                    out[key] = self._answered(item, auth)
            return out
        if isinstance(value, list):
            return [self._answered(item, auth) for item in value]
        return value

    # -- learning and scrubbing -----------------------------------------------------------

    def _learn_all(self, value: Any) -> None:
        if isinstance(value, str):
            self._learn(value)
        elif isinstance(value, dict):
            for item in value.values():
                self._learn_all(item)
        elif isinstance(value, list):
            for item in value:
                self._learn_all(item)

    def _learn(self, value: str) -> None:
        if len(value) >= _MIN_LEARNED and value != REDACTED:
            self.secrets.add(value)

    def _replacements(self) -> list[tuple[str, str]]:
        """(text as it stands in JSON, its replacement), the longest first: each secret raw
        and percent-encoded as paths, query strings and forms encode it."""
        found: dict[str, str] = {}
        for secret in self.secrets:
            for form in (secret, quote(secret, safe=""), quote_plus(secret), quote(secret)):
                found[json.dumps(form, ensure_ascii=False)[1:-1]] = REDACTED
        if self.redact_host:
            for origin in self.origins:
                found[json.dumps(origin)[1:-1]] = REDACTED_ORIGIN
                found[quote(origin, safe="")] = quote(REDACTED_ORIGIN, safe="")
        return sorted(found.items(), key=lambda item: len(item[0]), reverse=True)

    def scrub_text(self, text: str) -> str:
        """JSON text with every learned secret (and the origin, if asked) replaced."""
        for old, new in self._replacements():
            text = text.replace(old, new)
        if self.redact_host:
            for origin in sorted(self.origins, key=len, reverse=True):
                host = urlsplit(origin).netloc
                text = re.sub(
                    rf"(?<![\w.-]){re.escape(host)}(?![\w-])", "instance.example.invalid", text
                )
        return text

    def scrub(self, value: Any) -> Any:
        """A JSON value with every learned secret (and the origin, if asked) replaced."""
        if not self.secrets and not (self.redact_host and self.origins):
            return value
        return json.loads(self.scrub_text(json.dumps(value, ensure_ascii=False)))
