"""Logout from the account page ends the session on the server, not only in the browser."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from pgo_service.api.oauth_web import SESSION_COOKIE
from pgo_service.auth.totp import STEP_SECONDS, totp_at
from pgo_service.db.auth_tables import login_session
from pgo_service.db.engine import transaction

from .builders import PASSWORD, Account, FakeClock, FormBrowser, hidden_fields

ACCOUNT_PAGE = "Apps waaraan u langdurig toestemming gaf"
NO_APPS = "U heeft geen apps langdurig toegang gegeven."
LOGIN_PAGE = 'action="/oauth/login"'


def _sign_in_to_account(browser: FormBrowser, account: Account) -> str:
    page = browser.http.get("/account")
    assert LOGIN_PAGE in page.text
    page = browser.submit("/oauth/login", page.text, login_name=account.login, password=PASSWORD)
    browser.clock.advance(STEP_SECONDS)
    page = browser.submit(
        "/oauth/totp", page.text, code=totp_at(account.totp_secret, browser.clock())
    )
    assert NO_APPS in page.text, page.text
    return page.text


def _sessions(engine: Engine) -> int:
    with transaction(engine, write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(login_session)).scalar_one())


def test_logout_ends_the_session_server_side(
    http: TestClient, browser: FormBrowser, db_engine: Engine, anna: Account
) -> None:
    page = _sign_in_to_account(browser, anna)
    assert 'action="/account/logout"' in page
    raw = http.cookies[SESSION_COOKIE]
    assert _sessions(db_engine) == 1

    response = http.post("/account/logout", data={"csrf_token": hidden_fields(page)["csrf_token"]})
    assert response.status_code == 200
    assert "U bent uitgelogd" in response.text
    assert response.headers["cache-control"] == "no-store"
    cleared = response.headers["set-cookie"]
    assert cleared.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in cleared
    assert _sessions(db_engine) == 0

    # A copy of the old cookie opens nothing: the server no longer knows the session.
    with TestClient(http.app, follow_redirects=False, cookies={SESSION_COOKIE: raw}) as stolen:
        again = stolen.get("/account")
        assert LOGIN_PAGE in again.text
        assert ACCOUNT_PAGE not in again.text and NO_APPS not in again.text


def test_logout_needs_the_csrf_token(
    http: TestClient, browser: FormBrowser, clock: FakeClock, anna: Account
) -> None:
    _sign_in_to_account(browser, anna)
    for data in ({}, {"csrf_token": "forged"}):
        refused = http.post("/account/logout", data=data)
        assert refused.status_code == 403
        assert "set-cookie" not in refused.headers
    assert NO_APPS in http.get("/account").text  # still signed in


def test_logout_without_a_session_is_refused(http: TestClient, anna: Account) -> None:
    assert http.post("/account/logout", data={"csrf_token": "x"}).status_code == 403
