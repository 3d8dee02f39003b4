"""Which hosts the service may call, checked before every outbound request.

Endpoints come from lists and from peers, so a crafted endpoint must not turn the
service into a proxy into its own network (SSRF). Every URL is checked on its own
text, without resolving it: https only (plain http only to a loopback address, and
only in development mode), no user information, no IP literal other than loopback,
and a host that is on the allow list exactly (MedMij's whitelist, hosts an operator
added, and ``PGO_SYNC_ALLOWED_HOSTS``). Redirects are never followed, so a peer cannot
send a request elsewhere either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import httpx

HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_MAX_URL = 2048


class EndpointError(ValueError):
    """The URL is not one the service may call."""


def _parse(url: str | httpx.URL) -> httpx.URL:
    if isinstance(url, str):
        if len(url) > _MAX_URL:
            raise EndpointError("the URL is too long")
        if any(c.isspace() or ord(c) < 0x20 or c == "\\" for c in url):
            raise EndpointError("the URL holds whitespace, control characters or backslashes")
        try:
            return httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise EndpointError(f"not a URL: {exc}") from exc
    return url


def _host(parsed: httpx.URL, *, allow_loopback_http: bool) -> str:
    if parsed.scheme not in ("https", "http"):
        raise EndpointError(f"scheme {parsed.scheme!r} is not allowed")
    if parsed.userinfo:
        raise EndpointError("user information in a URL is not allowed")
    try:
        host = parsed.raw_host.decode("ascii").lower()
    except UnicodeDecodeError as exc:
        raise EndpointError("the host is not ASCII") from exc
    if not host:
        raise EndpointError("the URL has no host")
    loopback = host in LOOPBACK
    if parsed.scheme == "http" and not (loopback and allow_loopback_http):
        raise EndpointError("plain http is only allowed to loopback in development mode")
    if loopback and not allow_loopback_http:
        raise EndpointError("loopback hosts are only allowed in development mode")
    if not loopback and not HOSTNAME.match(host):
        raise EndpointError(f"host {host!r} is not a DNS name")
    if not loopback and all(part.isdigit() for part in host.split(".")):
        raise EndpointError(f"host {host!r} is an IP address")
    return host


def check_endpoint(url: str, *, allow_loopback_http: bool = False) -> str:
    """An endpoint as lists publish it: an absolute https URL with no query or fragment."""
    parsed = _parse(url)
    _host(parsed, allow_loopback_http=allow_loopback_http)
    if parsed.query or parsed.fragment or "?" in url or "#" in url:
        raise EndpointError("an endpoint has no query or fragment")
    return url


def parse_host_list(value: str) -> frozenset[str]:
    """``PGO_SYNC_ALLOWED_HOSTS``: hostnames separated by commas or white space."""
    return frozenset(h.strip().lower() for h in re.split(r"[\s,]+", value) if h.strip())


class HostPolicy:
    """The allow list and mode that every outbound request is checked against."""

    def __init__(self, allowed: Iterable[str], *, dev_mode: bool = False) -> None:
        self.allowed = frozenset(h.lower() for h in allowed)
        self.dev_mode = dev_mode

    def check(self, url: str | httpx.URL) -> httpx.URL:
        """The parsed URL if the service may call it; ``EndpointError`` otherwise."""
        parsed = _parse(url)
        host = _host(parsed, allow_loopback_http=self.dev_mode)
        if parsed.fragment:
            raise EndpointError("a request URL has no fragment")
        if host not in self.allowed:
            raise EndpointError(f"host {host!r} is not on the allow list")
        return parsed
