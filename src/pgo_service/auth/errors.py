"""OAuth errors, carrying the RFC 6749 §5.2 / §4.1.2.1 error code.

Token, revocation and introspection endpoints answer them as JSON; the
authorization endpoint redirects them to the client once the redirect URI is
known to be the client's, and shows them as a page otherwise (§4.1.2.1: never
redirect to an unverified URI).
"""

from __future__ import annotations


class OAuthError(Exception):
    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status=401)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def invalid_scope(description: str) -> OAuthError:
    return OAuthError("invalid_scope", description)


def unauthorized_client(description: str) -> OAuthError:
    return OAuthError("unauthorized_client", description)


class UnverifiedRedirect(OAuthError):
    """An authorization request error before the redirect URI is verified: show, never redirect."""
