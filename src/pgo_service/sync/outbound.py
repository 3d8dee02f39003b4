"""The only way the sync calls out: an httpx client that checks every request
against the host policy, follows no redirects, ignores proxy and netrc settings from
the environment, and has a timeout on every phase of every call.

Failures become the worker's two outcomes: ``RetryLater`` (the peer may succeed
later: timeouts, connection errors, 408, 429, 5xx, honouring ``Retry-After``) and
``JobFailed`` (it will not: refused hosts, redirects, other 4xx).
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from .backoff import parse_retry_after
from .hosts import EndpointError, HostPolicy

_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


class RetryLater(Exception):
    """The attempt failed in a way that may pass; try again (after ``retry_after``
    seconds if the peer said so)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class JobFailed(Exception):
    """The job cannot succeed by trying again; it goes to the dead jobs."""


class OutboundClient:
    def __init__(
        self,
        policy: HostPolicy,
        *,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            transport=transport,
            event_hooks={"request": [self._check_request]},
        )

    def _check_request(self, request: httpx.Request) -> None:
        # Runs for every request the client sends, whatever built it.
        self.policy.check(request.url)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            self.policy.check(url)
            return self._client.request(method, url, **kwargs)
        except EndpointError as exc:
            raise JobFailed(f"refused to call {method} {_safe(url)}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise RetryLater(f"{method} {_safe(url)}: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise RetryLater(f"{method} {_safe(url)}: {type(exc).__name__}") from exc

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _safe(url: str | httpx.URL) -> str:
    """The URL without its query: identifiers in a query stay out of error records."""
    text = str(url)
    return text.split("?", 1)[0]


def raise_for_outcome(response: httpx.Response, now: datetime) -> None:
    """Turn a response that is not a success into ``RetryLater`` or ``JobFailed``."""
    status = response.status_code
    if 200 <= status < 300:
        return
    what = f"{response.request.method} {_safe(response.request.url)}: HTTP {status}"
    if status in _RETRYABLE:
        raise RetryLater(what, parse_retry_after(response.headers.get("Retry-After"), now))
    if 300 <= status < 400:
        raise JobFailed(f"{what} (redirects are not followed)")
    raise JobFailed(what)
