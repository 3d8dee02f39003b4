"""Token lifetimes, revocation and introspection, and what the database keeps of them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pgo_service.db.auth_tables import (
    access_token,
    app_user,
    authorization_code,
    login_session,
    oauth_client,
    refresh_token,
)
from pgo_service.db.engine import transaction

from ..support.liveserver import LiveServer
from .builders import (
    CONFIDENTIAL_APP,
    CONFIDENTIAL_SECRET,
    PASSWORD,
    PUBLIC_APP,
    REDIRECT,
    Account,
    FakeClock,
    FormBrowser,
    authorize_request,
    exchange,
    query_of,
)

DAY = 24 * 3600
WEB_APP = (CONFIDENTIAL_APP, CONFIDENTIAL_SECRET)


def _long_term_tokens(http: TestClient, browser: FormBrowser, account: Account) -> Any:
    request = authorize_request()
    location = browser.consent(browser.login(request.url, account), duration="until_revoked")
    response = exchange(http, location, request.verifier)
    assert response.status_code == 200, response.text
    return response.json()


def _refresh(http: TestClient, token: str) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": PUBLIC_APP}
    return http.post("/oauth/token", data=data)


def _fhir(http: TestClient, token: str) -> int:
    response = http.get("/fhir/CarePlan", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def _active(http: TestClient, token: str) -> bool:
    body = http.post("/oauth/introspect", data={"token": token}, auth=WEB_APP).json()
    return bool(body["active"])


def test_each_use_of_a_refresh_token_restarts_its_six_months(
    http: TestClient, browser: FormBrowser, clock: FakeClock, anna: Account
) -> None:
    tokens = _long_term_tokens(http, browser, anna)
    for _ in range(3):  # a year and a half of use, never six months apart
        clock.advance(180 * DAY)
        response = _refresh(http, tokens["refresh_token"])
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert _fhir(http, tokens["access_token"]) == 200
    clock.advance(184 * DAY)
    lapsed = _refresh(http, tokens["refresh_token"])
    assert lapsed.status_code == 400
    assert lapsed.json()["error"] == "invalid_grant"


def test_a_refresh_cannot_widen_the_scope(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    tokens = _long_term_tokens(http, browser, anna)
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": PUBLIC_APP,
        "scope": "patient/*.cruds",  # registered for the app, but not approved by anna
    }
    widened = http.post("/oauth/token", data=data)
    assert widened.json()["error"] == "invalid_scope"
    narrowed = _refresh_with_scope(http, tokens["refresh_token"], "patient/CarePlan.rs")
    assert narrowed["scope"] == "patient/CarePlan.rs"
    goals = http.get("/fhir/Goal", headers={"Authorization": f"Bearer {narrowed['access_token']}"})
    assert goals.status_code == 403


def _refresh_with_scope(http: TestClient, token: str, scope: str) -> Any:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": PUBLIC_APP,
        "scope": scope,
    }
    response = http.post("/oauth/token", data=data)
    assert response.status_code == 200, response.text
    return response.json()


def test_revoking_an_access_token_ends_it_alone(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    tokens = _long_term_tokens(http, browser, anna)
    revoked = http.post(
        "/oauth/revoke", data={"token": tokens["access_token"], "client_id": PUBLIC_APP}
    )
    assert revoked.status_code == 200
    assert _fhir(http, tokens["access_token"]) == 401
    assert not _active(http, tokens["access_token"])
    assert _refresh(http, tokens["refresh_token"]).status_code == 200  # the consent stands


def test_another_client_cannot_revoke_a_token(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    tokens = _long_term_tokens(http, browser, anna)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = http.post("/oauth/revoke", data={"token": token}, auth=WEB_APP)
        assert response.status_code == 200  # RFC 7009 §2.2: nothing to learn from the answer
    assert _fhir(http, tokens["access_token"]) == 200
    assert _refresh(http, tokens["refresh_token"]).status_code == 200


def test_introspection(
    http: TestClient, browser: FormBrowser, clock: FakeClock, anna: Account
) -> None:
    tokens = _long_term_tokens(http, browser, anna)
    assert _active(http, tokens["access_token"])
    public = http.post(
        "/oauth/introspect", data={"token": tokens["access_token"], "client_id": PUBLIC_APP}
    )
    assert public.status_code == 401
    assert public.json()["error"] == "invalid_client"
    wrong_secret = http.post(
        "/oauth/introspect",
        data={"token": tokens["access_token"]},
        auth=(CONFIDENTIAL_APP, "not the secret"),
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.headers["www-authenticate"].startswith("Basic")
    assert not _active(http, tokens["refresh_token"])  # only access tokens are introspected
    assert not _active(http, "made-up")
    clock.advance(15 * 60 + 3)
    assert not _active(http, tokens["access_token"])


def test_the_database_keeps_no_usable_secret(
    http: TestClient, browser: FormBrowser, db_engine: Engine, anna: Account
) -> None:
    request = authorize_request()
    location = browser.consent(browser.login(request.url, anna), duration="until_revoked")
    code = query_of(location)["code"]
    tokens = exchange(http, location, request.verifier).json()
    session = http.cookies["pgo_session"]
    dump = []
    with transaction(db_engine, write=False) as conn:
        for table in (
            access_token,
            refresh_token,
            authorization_code,
            login_session,
            oauth_client,
            app_user,
        ):
            dump.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    text = "\n".join(dump)
    for secret in (
        tokens["access_token"],
        tokens["refresh_token"],
        code,
        session,
        CONFIDENTIAL_SECRET,
        PASSWORD,
        anna.totp_secret,
    ):
        assert secret not in text


@pytest.fixture
def server(app: FastAPI, clock: FakeClock) -> Iterator[str]:
    with LiveServer(app) as url:
        yield url


def _at_once(server: str, data: dict[str, str], count: int) -> list[httpx.Response]:
    start = threading.Barrier(count)

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=server, timeout=60) as http:
            start.wait()
            return http.post("/oauth/token", data=data)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, range(count)))


def _bearer_status(server: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{server}/fhir/CarePlan", headers=headers, timeout=60).status_code


def test_a_code_sent_twice_at_once_gives_one_token_and_then_none(
    server: str, clock: FakeClock, anna: Account
) -> None:
    request = authorize_request()
    with httpx.Client(base_url=server, timeout=60) as http:
        browser = FormBrowser(http, clock)
        location = browser.consent(browser.login(request.url, anna), duration="until_revoked")
    data = {
        "grant_type": "authorization_code",
        "code": query_of(location)["code"],
        "redirect_uri": REDIRECT,
        "client_id": PUBLIC_APP,
        "code_verifier": request.verifier,
    }
    responses = _at_once(server, data, 2)
    assert sorted(r.status_code for r in responses) == [200, 400]
    winner = next(r for r in responses if r.status_code == 200).json()
    loser = next(r for r in responses if r.status_code == 400).json()
    assert loser["error"] == "invalid_grant"
    # The replay revoked what the code produced, whichever request came first.
    assert _bearer_status(server, winner["access_token"]) == 401


def test_a_refresh_token_sent_twice_at_once_ends_the_family(
    server: str, clock: FakeClock, anna: Account
) -> None:
    request = authorize_request()
    with httpx.Client(base_url=server, timeout=60) as http:
        browser = FormBrowser(http, clock)
        location = browser.consent(browser.login(request.url, anna), duration="until_revoked")
        tokens = exchange(http, location, request.verifier).json()
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": PUBLIC_APP,
    }
    responses = _at_once(server, data, 2)
    assert sorted(r.status_code for r in responses) == [200, 400]
    winner = next(r for r in responses if r.status_code == 200).json()
    assert _bearer_status(server, winner["access_token"]) == 401
    with httpx.Client(base_url=server, timeout=60) as http:
        again = http.post(
            "/oauth/token",
            data={**data, "refresh_token": winner["refresh_token"]},
        )
    assert again.json()["error"] == "invalid_grant"
