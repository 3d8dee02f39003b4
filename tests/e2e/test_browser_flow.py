"""The whole login → TOTP → consent → logout flow through the real pages in headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from pgo_service.auth.totp import totp_at

from ..auth.builders import (
    PASSWORD,
    REDIRECT,
    FakeClock,
    add_account,
    authorize_request,
    query_of,
    register_apps,
)
from ..support.liveserver import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (scripts/ensure-chromium)",
)


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with LiveServer(app) as url:
        yield url


def test_login_totp_consent_and_token(server: str, app: FastAPI, db_engine: Engine) -> None:
    from playwright.sync_api import Route, sync_playwright

    clock = FakeClock()
    app.state.oauth.clock = clock
    register_apps(db_engine, clock())
    anna = add_account(db_engine, "anna", "Patient/anna", clock())
    request = authorize_request()
    redirected: list[str] = []

    def capture(route: Route) -> None:
        redirected.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>terug in de app</p>")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.route(f"{REDIRECT}**", capture)
            page.goto(server + request.url)
            assert page.locator("html").get_attribute("lang") == "nl"
            page.get_by_label("Gebruikersnaam").fill("anna")
            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Volgende").click()
            page.get_by_label("Code uit uw authenticator-app (6 cijfers)").fill(
                totp_at(anna.totp_secret, clock())
            )
            page.get_by_role("button", name="Inloggen").click()
            assert page.get_by_text("Voorbeeld PGO B.V.").is_visible()
            long_term = page.get_by_label("Tot ik de toestemming intrek", exact=False)
            assert not long_term.is_checked()
            long_term.check()
            page.get_by_role("button", name="Toestaan").click()
            page.wait_for_url(f"{REDIRECT}**")

            page.goto(server + "/account")
            assert page.get_by_text("Voorbeeld PGO B.V.").is_visible()
            page.get_by_role("button", name="Uitloggen").click()
            assert page.get_by_text("U bent uitgelogd").is_visible()
            page.goto(server + "/account")
            assert page.get_by_label("Gebruikersnaam").is_visible()
        finally:
            browser.close()

    params = query_of(redirected[-1])
    assert params["state"] == request.state
    token = httpx.post(
        f"{server}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "client_id": "app.pgo.example",
            "code_verifier": request.verifier,
        },
    ).json()
    assert "refresh_token" in token
    plans = httpx.get(
        f"{server}/fhir/CarePlan", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert plans.status_code == 200
