"""Redirect URI rules (RFC 6749 §3.1.2, MedMij): exact match against registration, https
on a host under the client's registered hostname, no query or fragment; plain http
only to a loopback address and only in dev mode (RFC 8252 §7.3)."""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def redirect_uri_problem(uri: str, hostname: str, *, dev_mode: bool) -> str | None:
    """Why ``uri`` may not be a redirect URI of a client registered for ``hostname``."""
    try:
        parts = urlsplit(uri)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return "not a valid URI"
    if parts.fragment or "#" in uri:
        return "a redirect URI has no fragment"
    if parts.query:
        return "a redirect URI has no query"
    if parts.username or parts.password:
        return "a redirect URI carries no credentials"
    if parts.scheme == "http" and dev_mode and host in LOOPBACK_HOSTS:
        return None
    if parts.scheme != "https":
        return "a redirect URI uses https"
    registered = hostname.lower().rstrip(".")
    if host != registered and not host.endswith("." + registered):
        return f"the host must be {registered} or under it"
    return None
