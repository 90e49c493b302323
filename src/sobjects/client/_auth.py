"""Authentication strategies: how the client gets an access token.

A strategy only knows how to ask the OAuth token endpoint for a token; the client decides when
(first request, then once after a 401 ``INVALID_SESSION_ID``) and makes sure only one fetch runs
at a time. No strategy ever puts a secret in its repr or in an exception message.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx

from sobjects.errors import AuthenticationError, ConfigurationError

__all__ = [
    "Auth",
    "ClientCredentials",
    "JwtBearer",
    "RefreshToken",
    "StaticToken",
    "Token",
    "TokenRequester",
    "UsernamePassword",
]

TOKEN_PATH = "/services/oauth2/token"

# Sends the token request (through the client's retry rules) and returns the raw response.
TokenRequester = Callable[[str, Mapping[str, str]], Awaitable[httpx.Response]]


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and the instance it is valid for.

    >>> Token("00D!secret", "https://acme.my.salesforce.com")
    Token(access_token='***', instance_url='https://acme.my.salesforce.com')
    """

    access_token: str = field(repr=False)
    instance_url: str | None = None
    refresh_token: str | None = field(default=None, repr=False, compare=False)
    issued_at: float = field(default_factory=time.time, repr=False, compare=False)

    def __repr__(self) -> str:
        return f"Token(access_token='***', instance_url={self.instance_url!r})"


class Auth(ABC):
    """Base class of authentication strategies.

    ``can_refresh`` says whether asking again can give a new token after the old one expired.
    """

    can_refresh: bool = True

    @abstractmethod
    async def fetch_token(self, request: TokenRequester, base_url: str) -> Token:
        """Fetch a token; ``request(url, form)`` posts a form to the token endpoint."""

    def _token_url(self, override: str | None, base_url: str) -> str:
        return override if override is not None else base_url.rstrip("/") + TOKEN_PATH

    async def _grant(self, request: TokenRequester, url: str, form: Mapping[str, str]) -> Token:
        response = await request(url, form)
        return parse_token_response(response)


def parse_token_response(response: httpx.Response) -> Token:
    """Turn a token endpoint reply into a ``Token`` or an ``AuthenticationError``."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        if isinstance(body, dict) and "error" in body:
            raise AuthenticationError(
                str(body["error"]),
                str(body.get("error_description", "")),
                status_code=response.status_code,
            )
        raise AuthenticationError(
            "invalid_response",
            f"token endpoint answered HTTP {response.status_code} without a token",
            status_code=response.status_code,
        )
    return Token(
        access_token=str(body["access_token"]),
        instance_url=str(body["instance_url"]) if body.get("instance_url") else None,
        refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
    )


class StaticToken(Auth):
    """A token obtained elsewhere (the Salesforce CLI, a web login). It cannot be refreshed.

    >>> StaticToken("00Dxx!secret", instance_url="https://acme.my.salesforce.com")
    StaticToken(access_token='***', instance_url='https://acme.my.salesforce.com')
    """

    can_refresh = False

    def __init__(self, access_token: str, instance_url: str | None = None) -> None:
        if not access_token:
            raise ConfigurationError("StaticToken needs a non-empty access_token")
        self._token = Token(access_token, instance_url)

    async def fetch_token(self, request: TokenRequester, base_url: str) -> Token:
        return self._token

    def __repr__(self) -> str:
        return f"StaticToken(access_token='***', instance_url={self._token.instance_url!r})"


class ClientCredentials(Auth):
    """OAuth 2.0 client credentials flow (runs as the connected app's integration user).

    The token endpoint defaults to the client's base URL (the org's My Domain), where
    Salesforce requires this flow to be sent.

    >>> ClientCredentials("3MVG9...", "s3cr3t")
    ClientCredentials(client_id='3MVG9...', client_secret='***')
    """

    def __init__(self, client_id: str, client_secret: str, *, token_url: str | None = None):
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_url = token_url

    async def fetch_token(self, request: TokenRequester, base_url: str) -> Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        return await self._grant(request, self._token_url(self.token_url, base_url), form)

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, client_secret='***')"


class UsernamePassword(Auth):
    """OAuth username-password flow; ``security_token`` is appended to the password.

    >>> UsernamePassword("id", "secret", "me@acme.com", "pw", security_token="tok")
    UsernamePassword(client_id='id', username='me@acme.com', client_secret='***', password='***')
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        *,
        security_token: str = "",
        token_url: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.username = username
        self._client_secret = client_secret
        self._password = password + security_token
        self.token_url = token_url

    async def fetch_token(self, request: TokenRequester, base_url: str) -> Token:
        form = {
            "grant_type": "password",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "username": self.username,
            "password": self._password,
        }
        return await self._grant(request, self._token_url(self.token_url, base_url), form)

    def __repr__(self) -> str:
        return (
            f"UsernamePassword(client_id={self.client_id!r}, username={self.username!r}, "
            "client_secret='***', password='***')"
        )


class RefreshToken(Auth):
    """OAuth refresh token flow. A rotated refresh token in the reply replaces the old one.

    >>> RefreshToken("id", "5Aep861...", client_secret="secret")
    RefreshToken(client_id='id', refresh_token='***')
    """

    def __init__(
        self,
        client_id: str,
        refresh_token: str,
        *,
        client_secret: str | None = None,
        token_url: str | None = None,
    ) -> None:
        self.client_id = client_id
        self._refresh_token = refresh_token
        self._client_secret = client_secret
        self.token_url = token_url

    async def fetch_token(self, request: TokenRequester, base_url: str) -> Token:
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "refresh_token": self._refresh_token,
        }
        if self._client_secret is not None:
            form["client_secret"] = self._client_secret
        token = await self._grant(request, self._token_url(self.token_url, base_url), form)
        if token.refresh_token:
            self._refresh_token = token.refresh_token
        return token

    def __repr__(self) -> str:
        return f"RefreshToken(client_id={self.client_id!r}, refresh_token='***')"


class JwtBearer(Auth):
    """OAuth JWT bearer flow: an RS256 assertion signed with the connected app's private key.

    ``private_key`` is the PEM key itself (``bytes``, or ``str`` PEM text) or a path to it.
    Needs the ``jwt`` extra (``pip install 'sobjects[jwt]'``). ``audience`` is
    ``https://test.salesforce.com`` for sandboxes.

    >>> JwtBearer("3MVG9...", "me@acme.com", b"-----BEGIN PRIVATE KEY-----...")
    JwtBearer(client_id='3MVG9...', username='me@acme.com', private_key='***')
    """

    def __init__(
        self,
        client_id: str,
        username: str,
        private_key: bytes | str | os.PathLike[str],
        *,
        audience: str = "https://login.salesforce.com",
        token_url: str | None = None,
        lifetime: float = 300.0,
    ) -> None:
        try:
            import jwt  # noqa: F401  (checked here so a missing extra fails at set-up time)
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                "JwtBearer needs PyJWT with cryptography: pip install 'sobjects[jwt]'"
            ) from exc
        self.client_id = client_id
        self.username = username
        self.audience = audience
        self.token_url = token_url
        self.lifetime = lifetime
        self._private_key = private_key

    async def _key(self) -> bytes:
        if isinstance(self._private_key, bytes):
            return self._private_key
        if isinstance(self._private_key, str) and "-----BEGIN" in self._private_key:
            # PEM text passed as str: using it as a path would put the key in the error message.
            return self._private_key.encode("ascii", "replace")
        path = Path(self._private_key)
        try:
            return await anyio.Path(path).read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the JWT private key at {path}: {exc}") from None

    def assertion(self, key: bytes, now: float | None = None) -> str:
        """The signed JWT sent as ``assertion`` (exposed for tests and debugging)."""
        import jwt

        issued = time.time() if now is None else now
        claims = {
            "iss": self.client_id,
            "sub": self.username,
            "aud": self.audience,
            "exp": int(issued + self.lifetime),
        }
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            # The key's bytes must never reach a message.
            raise ConfigurationError(
                f"the JWT private key is not a usable RSA key ({type(exc).__name__})"
            ) from None

    async def fetch_token(self, request: TokenRequester, base_url: str) -> Token:
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": self.assertion(await self._key()),
        }
        return await self._grant(request, self._token_url(self.token_url, base_url), form)

    def __repr__(self) -> str:
        return (
            f"JwtBearer(client_id={self.client_id!r}, username={self.username!r}, "
            "private_key='***')"
        )
