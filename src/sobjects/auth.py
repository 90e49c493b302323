"""Authentication strategies for ``sobjects.Salesforce``.

>>> from sobjects.auth import ClientCredentials
>>> ClientCredentials("3MVG9...", "secret")
ClientCredentials(client_id='3MVG9...', client_secret='***')
"""

from sobjects.client._auth import (
    Auth,
    ClientCredentials,
    JwtBearer,
    RefreshToken,
    StaticToken,
    Token,
    UsernamePassword,
)

__all__ = [
    "Auth",
    "ClientCredentials",
    "JwtBearer",
    "RefreshToken",
    "StaticToken",
    "Token",
    "UsernamePassword",
]
