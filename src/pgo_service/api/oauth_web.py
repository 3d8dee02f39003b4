"""What the OAuth endpoints and pages share: the runtime, templates and cookies."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..auth.crypto import SecretBox
from ..auth.redirects import LOOPBACK_HOSTS
from ..auth.sessions import LoginSession, SessionRepository
from ..auth.tokens import Clock, utc_now
from ..config import Settings
from ..db.engine import transaction

SESSION_COOKIE = "pgo_session"
_T = TypeVar("_T")

_templates = Environment(
    loader=PackageLoader("pgo_service.api", "templates"),
    autoescape=select_autoescape(["html"]),
)

# Pages must not be framed (clickjacking on the consent button) or cached.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


@dataclass
class OAuthRuntime:
    """The authorization server's dependencies; ``clock`` may be replaced in tests."""

    engine: Engine
    settings: Settings
    clock: Clock = utc_now
    _box: SecretBox | None = field(default=None, repr=False)

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox(self.settings.resolved_secret_key())
        return self._box

    async def run(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in one write transaction, off the event loop."""

        def in_transaction() -> _T:
            with transaction(self.engine) as conn:
                return work(conn)

        return await run_in_threadpool(in_transaction)

    def root_url(self, request: Request) -> str:
        if self.settings.base_url:
            return self.settings.base_url.rstrip("/").removesuffix("/fhir")
        return str(request.base_url).rstrip("/")


def runtime(request: Request) -> OAuthRuntime:
    value: OAuthRuntime = request.app.state.oauth
    return value


def correlation_id(request: Request) -> str | None:
    value: str | None = getattr(request.state, "correlation_id", None)
    return value


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _secure_cookie(request: Request, dev_mode: bool) -> bool:
    loopback = (request.url.hostname or "") in (*LOOPBACK_HOSTS, "testserver")
    return not (dev_mode and loopback and request.url.scheme == "http")


def set_session_cookie(request: Request, response: Response, raw: str, dev_mode: bool) -> None:
    """Secure, HttpOnly, SameSite=Lax; Secure is dropped only for dev-mode loopback http."""
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        httponly=True,
        samesite="lax",
        secure=_secure_cookie(request, dev_mode),
        path="/",
    )


def clear_session_cookie(request: Request, response: Response, dev_mode: bool) -> None:
    """Tell the browser to drop the cookie (the session itself is ended server-side)."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure_cookie(request, dev_mode),
    )


def csrf_ok(session: LoginSession | None, submitted: str | None) -> bool:
    return bool(session and submitted and hmac.compare_digest(session.csrf_token, submitted))


def find_session(conn: Connection, request: Request, rt: OAuthRuntime) -> LoginSession | None:
    return SessionRepository(conn).find(request.cookies.get(SESSION_COOKIE), rt.clock())
