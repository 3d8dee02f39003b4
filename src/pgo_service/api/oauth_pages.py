"""The authorization endpoint's pages: login, second factor, whom to act for, consent.

The authorization request travels through the pages as its validated, re-encoded
query (never as a URL), and is validated again when the consent form comes back,
so nothing the browser sends can redirect elsewhere than a registered URI.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import RedirectResponse, Response

from ..auth.authorize import (
    AuthorizationRequest,
    RedirectableError,
    approve,
    deny,
    validate_authorization_request,
)
from ..auth.describe import permissions
from ..auth.errors import UnverifiedRedirect
from ..auth.login import check_password, check_totp
from ..auth.sessions import ANONYMOUS, PASSWORD, LoginSession, SessionRepository
from ..auth.users import UserRepository
from .oauth_web import (
    OAuthRuntime,
    correlation_id,
    csrf_ok,
    find_session,
    render,
    runtime,
    set_session_cookie,
)

router = APIRouter(prefix="/oauth", tags=["OAuth 2.0"], include_in_schema=False)

EXPIRED = "Uw sessie is verlopen of ongeldig. Begin opnieuw vanuit de app."


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _next_location(flow: str, query: str) -> str:
    """Only two places to go back to, both on this server (no open redirect)."""
    if flow == "account":
        return "/account"
    return "/oauth/authorize?" + urlencode(parse_qsl(query))


def step_page(
    conn: Connection, session: LoginSession, flow: str, query: str, error: str | None = None
) -> Response | None:
    """The login page a session still needs, or None once the user is in and has chosen."""
    common: dict[str, Any] = {
        "csrf_token": session.csrf_token,
        "flow": flow,
        "query": query,
        "error": error,
    }
    if session.stage == ANONYMOUS:
        return render("login.html", 401 if error else 200, **common)
    if session.stage == PASSWORD:
        return render("totp.html", 401 if error else 200, **common)
    user = UserRepository(conn).get(session.user_id or "")
    if user is None:
        return render("error.html", 400, message=EXPIRED)
    if session.patient_id is None and flow == "authorize":
        patients = user.patients()
        if not patients:
            return render("error.html", 403, message="Uw account is aan geen cliënt gekoppeld.")
        own = user.actor_reference.removeprefix("Patient/")
        return render("patient.html", patients=patients, own_patient=own, **common)
    return None


def _validate(conn: Connection, rt: OAuthRuntime, query: str) -> AuthorizationRequest:
    pairs = parse_qsl(query, keep_blank_values=True)
    return validate_authorization_request(
        conn, pairs, dev_mode=rt.settings.dev_mode, provider_name=rt.settings.provider_name
    )


def _error_response(error: UnverifiedRedirect | RedirectableError) -> Response:
    if isinstance(error, RedirectableError):
        return _redirect(error.location())
    return render("error.html", 400, message=error.description, code=error.error)


@router.get("/authorize")
async def authorize_page(request: Request) -> Response:
    rt = runtime(request)
    query = request.url.query

    def work(conn: Connection) -> tuple[Response, str | None]:
        try:
            auth_request = _validate(conn, rt, query)
        except (UnverifiedRedirect, RedirectableError) as error:
            return _error_response(error), None
        raw = None
        session = find_session(conn, request, rt)
        if session is None:
            raw, session = SessionRepository(conn).start(rt.clock())
        page = step_page(conn, session, "authorize", auth_request.query)
        return page or _consent_page(conn, session, auth_request), raw

    response, raw = await rt.run(work)
    if raw:
        set_session_cookie(request, response, raw, rt.settings.dev_mode)
    return response


def _consent_page(
    conn: Connection, session: LoginSession, auth_request: AuthorizationRequest
) -> Response:
    user = UserRepository(conn).get(session.user_id or "")
    own = user.actor_reference.removeprefix("Patient/") if user else None
    acting_for = None if session.patient_id == own else f"cliënt {session.patient_id}"
    return render(
        "consent.html",
        csrf_token=session.csrf_token,
        flow="authorize",
        query=auth_request.query,
        organisation=auth_request.client.organisation_name,
        permissions=permissions(auth_request.scopes),
        acting_for=acting_for,
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/login")
async def login(request: Request) -> Response:
    rt, form = runtime(request), await _form(request)

    def work(conn: Connection) -> Response:
        session = find_session(conn, request, rt)
        if session is None or not csrf_ok(session, form.get("csrf_token")):
            return render("error.html", 403, message=EXPIRED)
        result = check_password(
            conn,
            session,
            form.get("login_name", ""),
            form.get("password", ""),
            rt.clock(),
            correlation_id(request),
        )
        flow, query = form.get("flow", ""), form.get("query", "")
        if result.error:
            page = step_page(conn, session, flow, query, result.error)
            return page or render("error.html", 400, message=EXPIRED)
        return _redirect(_next_location(flow, query))

    return await rt.run(work)


@router.post("/totp")
async def totp(request: Request) -> Response:
    rt, form = runtime(request), await _form(request)

    def work(conn: Connection) -> tuple[Response, str | None]:
        session = find_session(conn, request, rt)
        if session is None or not csrf_ok(session, form.get("csrf_token")):
            return render("error.html", 403, message=EXPIRED), None
        result = check_totp(
            conn, session, form.get("code", ""), rt.box, rt.clock(), correlation_id(request)
        )
        flow, query = form.get("flow", ""), form.get("query", "")
        if result.error or result.session is None:
            page = step_page(conn, session, flow, query, result.error)
            return page or render("error.html", 400, message=EXPIRED), None
        return _redirect(_next_location(flow, query)), result.raw_session_id

    response, raw = await rt.run(work)
    if raw:
        set_session_cookie(request, response, raw, rt.settings.dev_mode)
    return response


@router.post("/patient")
async def choose_patient(request: Request) -> Response:
    rt, form = runtime(request), await _form(request)

    def work(conn: Connection) -> Response:
        session = find_session(conn, request, rt)
        if session is None or not csrf_ok(session, form.get("csrf_token")):
            return render("error.html", 403, message=EXPIRED)
        user = UserRepository(conn).get(session.user_id or "")
        chosen = form.get("patient_id", "")
        if not session.authenticated or user is None or chosen not in user.patients():
            return render("error.html", 403, message="U mag niet voor deze cliënt handelen.")
        SessionRepository(conn).advance(session, patient_id=chosen)
        return _redirect(_next_location(form.get("flow", ""), form.get("query", "")))

    return await rt.run(work)


@router.post("/authorize")
async def consent(request: Request) -> Response:
    """The consent form's answer (RFC 6749 §4.1.2): a code to the redirect URI, or access_denied."""
    rt, form = runtime(request), await _form(request)

    def work(conn: Connection) -> Response:
        session = find_session(conn, request, rt)
        if session is None or not csrf_ok(session, form.get("csrf_token")):
            return render("error.html", 403, message=EXPIRED)
        try:
            auth_request = _validate(conn, rt, form.get("query", ""))
        except (UnverifiedRedirect, RedirectableError) as error:
            return _error_response(error)
        user = UserRepository(conn).get(session.user_id or "")
        if not session.authenticated or user is None:
            return render("error.html", 403, message=EXPIRED)
        kwargs: dict[str, Any] = {"now": rt.clock(), "correlation_id": correlation_id(request)}
        if form.get("decision") != "approve":
            return _redirect(deny(conn, auth_request, user, **kwargs))
        long_term = form.get("duration") == "until_revoked"
        try:
            location = approve(
                conn, auth_request, user, session.patient_id, long_term=long_term, **kwargs
            )
        except RedirectableError as error:
            return _redirect(error.location())
        return _redirect(location)

    return await rt.run(work)
