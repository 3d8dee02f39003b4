"""Open redirect attempts through the pages' forms, CSRF on every form, and the session cookie."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pgo_service.api.app import create_app
from pgo_service.api.oauth_web import SESSION_COOKIE
from pgo_service.auth.admin import ClientRegistration, register_client
from pgo_service.auth.totp import STEP_SECONDS, totp_at
from pgo_service.config import Settings
from pgo_service.db.engine import transaction

from ..conftest import TEST_SECRET_KEY
from .builders import (
    PASSWORD,
    PUBLIC_APP,
    REDIRECT,
    SCOPE,
    Account,
    FakeClock,
    FormBrowser,
    authorize_request,
    exchange,
    hidden_fields,
    query_of,
)

EVIL = "https://evil.example/steal"


def _evil_query() -> str:
    return urlencode(
        {
            "response_type": "code",
            "client_id": PUBLIC_APP,
            "redirect_uri": EVIL,
            "scope": SCOPE,
            "state": "x",
            "code_challenge": "a" * 43,
            "code_challenge_method": "S256",
        }
    )


def test_more_redirect_uris_that_are_shown_not_followed(http: TestClient, anna: Account) -> None:
    for uri in (
        "https://app.pgo.example@evil.example/callback",
        "https://evil.example\\@app.pgo.example/callback",
        "https://app.pgo.example/callback#x",
        "https://app.pgo.example/callback/",
        "https://APP.PGO.EXAMPLE/callback",
        "//evil.example/callback",
        "",
    ):
        response = http.get(authorize_request(redirect_uri=uri).url)
        assert response.status_code == 400, uri
        assert "location" not in response.headers
    repeated = authorize_request().url + "&" + urlencode({"redirect_uri": EVIL})
    response = http.get(repeated)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_errors_after_verification_go_to_the_app_with_state(
    http: TestClient, anna: Account
) -> None:
    response = http.get(authorize_request(response_type="token", state="s1").url)
    assert response.status_code == 303
    assert query_of(response.headers["location"])["error"] == "unsupported_response_type"
    assert query_of(response.headers["location"])["state"] == "s1"


def test_login_forms_only_lead_back_to_this_server(http: TestClient, anna: Account) -> None:
    page = http.get(authorize_request().url)
    fields = hidden_fields(page.text)
    for flow, query in (
        ("authorize", _evil_query()),
        ("https://evil.example", "x"),
        ("account", EVIL),
        ("authorize", "//evil.example"),
    ):
        response = http.post(
            "/oauth/login",
            data={**fields, "flow": flow, "query": query, "login_name": "anna", "password": "x"},
        )
        assert response.status_code == 401  # wrong password: the page again, no redirect
        assert "location" not in response.headers
    response = http.post(
        "/oauth/login",
        data={**fields, "query": _evil_query(), "login_name": "anna", "password": PASSWORD},
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/oauth/authorize?") and not location.startswith("//")
    followed = http.get(location)  # validated again: the evil redirect_uri is refused
    assert followed.status_code == 400
    assert "location" not in followed.headers


def test_a_tampered_consent_form_cannot_redirect_elsewhere(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    page = browser.login(authorize_request().url, anna)
    fields = {**hidden_fields(page.text), "query": _evil_query(), "decision": "approve"}
    response = http.post("/oauth/authorize", data=fields)
    assert response.status_code == 400
    assert "location" not in response.headers
    denied = http.post("/oauth/authorize", data={**fields, "decision": "deny"})
    assert denied.status_code == 400
    assert "location" not in denied.headers


def test_every_form_checks_the_csrf_token_of_its_own_session(
    http: TestClient, browser: FormBrowser, clock: FakeClock, anna: Account, rob: Account
) -> None:
    # The attacker's own session and token, sent with the victim's cookie.
    with TestClient(http.app, follow_redirects=False) as attacker:
        attacker_token = hidden_fields(attacker.get(authorize_request().url).text)["csrf_token"]
    page = http.get(authorize_request().url)
    fields = hidden_fields(page.text)
    for forged in ("", "forged", attacker_token):
        data = {**fields, "csrf_token": forged}
        login = http.post("/oauth/login", data={**data, "login_name": "rob", "password": PASSWORD})
        assert login.status_code == 403
    page = browser.submit("/oauth/login", page.text, login_name="rob", password=PASSWORD)
    clock.advance(STEP_SECONDS)
    code = totp_at(rob.totp_secret, clock())
    forged_totp = http.post(
        "/oauth/totp", data={**hidden_fields(page.text), "csrf_token": attacker_token, "code": code}
    )
    assert forged_totp.status_code == 403
    page = browser.submit("/oauth/totp", page.text, code=code)
    assert "Voor wie handelt u?" in page.text
    forged_patient = http.post(
        "/oauth/patient",
        data={**hidden_fields(page.text), "csrf_token": attacker_token, "patient_id": "bert"},
    )
    assert forged_patient.status_code == 403
    page = browser.submit("/oauth/patient", page.text, patient_id="bert")
    assert "Toestemming geven" in page.text

    location = browser.consent(page, duration="until_revoked")
    assert "code" in query_of(location)
    account = http.get("/account")
    action = account.text.split('action="')[1].split('"')[0]
    forged_revoke = http.post(action, data={"csrf_token": attacker_token})
    assert forged_revoke.status_code == 403
    assert "Intrekken" in http.get("/account").text  # the consent is still there


def test_the_session_id_changes_at_login(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    request = authorize_request()
    http.get(request.url)
    before = http.cookies[SESSION_COOKIE]
    browser.login(request.url, anna)
    after = http.cookies[SESSION_COOKIE]
    assert after != before
    with TestClient(http.app, follow_redirects=False, cookies={SESSION_COOKIE: before}) as fixated:
        assert "Toestemming geven" not in fixated.get(request.url).text


@pytest.fixture
def production(db_engine: Engine, clock: FakeClock) -> Iterator[TestClient]:
    """The service as deployed: no dev mode, served over https."""
    settings = Settings(database_url="unused://", secret_key=TEST_SECRET_KEY, dev_mode=False)
    app = create_app(settings, db_engine)
    app.state.oauth.clock = clock
    with TestClient(app, base_url="https://pgo.example", follow_redirects=False) as http:
        yield http


def test_the_session_cookie_is_secure_httponly_and_samesite(
    production: TestClient, anna: Account
) -> None:
    page = production.get(authorize_request().url)
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= attributes


def test_loopback_http_redirects_only_in_dev_mode(
    production: TestClient, db_engine: Engine, clock: FakeClock, anna: Account
) -> None:
    loopback = "http://127.0.0.1:8765/callback"
    with transaction(db_engine) as conn:
        register_client(
            conn,
            ClientRegistration(
                client_id="dev.pgo.example",
                name="Ontwikkel-PGO",
                redirect_uris=(loopback,),
                scopes="patient/*.rs",
                public=True,
                hostname="dev.pgo.example",
            ),
            clock(),
            dev_mode=True,
        )
    request = authorize_request(
        client_id="dev.pgo.example", redirect_uri=loopback, scope="patient/CarePlan.rs"
    )
    refused = production.get(request.url)
    assert refused.status_code == 400
    assert "location" not in refused.headers


def test_a_code_works_for_the_registered_redirect_only(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    request = authorize_request()
    location = browser.consent(browser.login(request.url, anna))
    assert location.startswith(REDIRECT + "?")
    missing = exchange(http, location, request.verifier, redirect_uri="")
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    no_verifier = exchange(http, location, "")
    assert no_verifier.json()["error"] == "invalid_grant"
