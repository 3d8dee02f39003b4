"""The authorization code flow with PKCE, driven by an independent client (requests-oauthlib)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from requests_oauthlib import OAuth2Session

from pgo_service.auth.totp import totp_at

from ..support.liveserver import LiveServer
from .builders import (
    CONFIDENTIAL_APP,
    CONFIDENTIAL_SECRET,
    PASSWORD,
    PUBLIC_APP,
    REDIRECT,
    SCOPE,
    Account,
    FakeClock,
    FormBrowser,
    authorize_request,
    exchange,
    query_of,
)


@pytest.fixture
def server(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the test server speaks http
    with LiveServer(app) as url:
        yield url


def test_public_client_logs_in_and_reads_the_plan(
    server: str, clock: FakeClock, anna: Account
) -> None:
    oauth = OAuth2Session(PUBLIC_APP, redirect_uri=REDIRECT, scope=SCOPE.split(), pkce="S256")
    url, _state = oauth.authorization_url(f"{server}/oauth/authorize")
    with httpx.Client(base_url=server, headers={"X-Correlation-ID": "flow-1"}) as http:
        browser = FormBrowser(http, clock)
        page = browser.login(url, anna)
        assert "Voorbeeld PGO B.V." in page.text
        assert 'lang="nl"' in page.text
        assert page.headers["x-correlation-id"] == "flow-1"
        location = browser.consent(page, duration="until_revoked")
    assert location.startswith(REDIRECT + "?")
    token = oauth.fetch_token(
        f"{server}/oauth/token", authorization_response=location, include_client_id=True
    )
    assert token["token_type"] == "Bearer"
    assert token["patient"] == "anna"
    assert token["expires_in"] == 900
    assert "refresh_token" in token

    created = oauth.post(
        f"{server}/fhir/Goal",
        json={
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "description": {"text": "Elke dag wandelen"},
            "subject": {"reference": "Patient/anna"},
        },
        headers={"Content-Type": "application/fhir+json"},
    )
    assert created.status_code == 201, created.text
    found = oauth.get(f"{server}/fhir/Goal").json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [created.json()["id"]]

    refreshed = oauth.refresh_token(f"{server}/oauth/token", client_id=PUBLIC_APP)
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert oauth.get(f"{server}/fhir/Goal").status_code == 200


def test_representative_chooses_whose_plan(
    http: TestClient, browser: FormBrowser, rob: Account
) -> None:
    request = authorize_request()
    page = browser.login(request.url, rob, patient="bert")
    assert "cliënt bert" in page.text
    location = browser.consent(page)
    assert query_of(location)["state"] == request.state
    token = exchange(http, location, request.verifier).json()
    assert token["patient"] == "bert"
    assert "refresh_token" not in token  # "only now" was chosen
    introspected = http.post(
        "/oauth/introspect",
        data={"token": token["access_token"]},
        auth=(CONFIDENTIAL_APP, CONFIDENTIAL_SECRET),
    ).json()
    assert introspected["active"] is True
    assert introspected["sub"] == "RelatedPerson/rob"
    assert introspected["patient"] == "bert"


def test_representative_may_not_pick_someone_else(browser: FormBrowser, rob: Account) -> None:
    page = browser.http.get(authorize_request().url)
    page = browser.submit("/oauth/login", page.text, login_name="rob", password=PASSWORD)
    page = browser.submit("/oauth/totp", page.text, code=totp_at(rob.totp_secret, browser.clock()))
    refused = browser.submit("/oauth/patient", page.text, patient_id="carla")
    assert refused.status_code == 403
