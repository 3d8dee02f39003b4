"""The account page: the apps a client gave long-term consent, each revocable; logout."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import RedirectResponse, Response

from ..auth.audit import AuditRecord, write_audit
from ..auth.clients import ClientRepository
from ..auth.grants import GrantRepository
from ..auth.sessions import SessionRepository
from ..auth.users import UserRepository
from .oauth_pages import EXPIRED, step_page
from .oauth_web import (
    clear_session_cookie,
    correlation_id,
    csrf_ok,
    find_session,
    render,
    runtime,
    set_session_cookie,
)

router = APIRouter(tags=["account"], include_in_schema=False)


@router.get("/account")
async def account(request: Request) -> Response:
    rt = runtime(request)

    def work(conn: Connection) -> tuple[Response, str | None]:
        raw = None
        session = find_session(conn, request, rt)
        if session is None:
            raw, session = SessionRepository(conn).start(rt.clock())
        page = step_page(conn, session, "account", "")
        if page is not None:
            return page, raw
        clients = ClientRepository(conn)
        grants = []
        for grant in GrantRepository(conn).active_for_user(session.user_id or ""):
            client = clients.get(grant.client_id)
            grants.append(
                {
                    "id": grant.id,
                    "organisation": client.organisation_name if client else grant.client_id,
                    "since": grant.created_at.strftime("%d-%m-%Y"),
                    "scope": grant.scope,
                }
            )
        return render("account.html", grants=grants, csrf_token=session.csrf_token), raw

    response, raw = await rt.run(work)
    if raw:
        set_session_cookie(request, response, raw, rt.settings.dev_mode)
    return response


@router.post("/account/grants/{grant_id}/revoke")
async def revoke_grant(request: Request, grant_id: str) -> Response:
    rt = runtime(request)
    form = await request.form()
    submitted = form.get("csrf_token")

    def work(conn: Connection) -> Response:
        session = find_session(conn, request, rt)
        if not csrf_ok(session, submitted if isinstance(submitted, str) else None):
            return render("error.html", 403, message=EXPIRED)
        assert session is not None
        repo = GrantRepository(conn)
        grant = repo.get(grant_id)
        if not session.authenticated or grant is None or grant.user_id != session.user_id:
            return render("error.html", 404, message="Deze toestemming bestaat niet (meer).")
        now = rt.clock()
        repo.revoke(grant.id, now)
        record = AuditRecord(
            event="revoke",
            client_id=grant.client_id,
            actor_reference=grant.actor_reference,
            patient_id=grant.patient_id,
            detail="revoked on the account page",
            correlation_id=correlation_id(request),
        )
        write_audit(conn, record, now)
        return RedirectResponse("/account", status_code=303)

    return await rt.run(work)


@router.post("/account/logout")
async def logout(request: Request) -> Response:
    """End the session server-side: its id no longer opens anything, even if kept."""
    rt = runtime(request)
    form = await request.form()
    submitted = form.get("csrf_token")

    def work(conn: Connection) -> Response:
        session = find_session(conn, request, rt)
        if not csrf_ok(session, submitted if isinstance(submitted, str) else None):
            return render("error.html", 403, message=EXPIRED)
        assert session is not None
        SessionRepository(conn).end(session)
        user = UserRepository(conn).get(session.user_id or "")
        if session.authenticated and user is not None:
            record = AuditRecord(
                event="logout",
                actor_reference=user.actor_reference,
                correlation_id=correlation_id(request),
            )
            write_audit(conn, record, rt.clock())
        response = render("logged_out.html")
        clear_session_cookie(request, response, rt.settings.dev_mode)
        return response

    return await rt.run(work)
