"""MedMij-style scopes ``<provider name>~<data service>``: only this provider's name counts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pgo_service.api.app import create_app
from pgo_service.auth.admin import AdminError, ClientRegistration, register_client
from pgo_service.config import Settings
from pgo_service.db.engine import transaction

from ..conftest import TEST_SECRET_KEY
from .builders import PUBLIC_APP, REDIRECT, Account, FakeClock, FormBrowser, exchange, query_of
from .builders import authorize_request as request_for

READ_PLAN = "pgo-service~zorgleefplan"  # the provider name the test app is registered under


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}


def test_own_provider_name_grants_the_data_service(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    request = request_for(scope=READ_PLAN)
    page = browser.login(request.url, anna)
    assert "uw zorgleefplan" in page.text
    token = exchange(http, browser.consent(page), request.verifier).json()
    assert token["scope"] == READ_PLAN
    assert http.get("/fhir/CarePlan", headers=_as(token["access_token"])).status_code == 200
    goal = {"resourceType": "Goal", "subject": {"reference": "Patient/anna"}}
    write = http.post("/fhir/Goal", json=goal, headers=_as(token["access_token"]))
    assert write.status_code == 403  # zorgleefplan is read-only


@pytest.mark.parametrize(
    "scope",
    [
        "other-provider~zorgleefplan",  # another provider's data service
        "PGO-SERVICE~zorgleefplan",  # names are compared exactly
        "pgo-service~onbekend",  # a data service this provider does not have
        "~zorgleefplan",
        "pgo-service~",
    ],
)
def test_other_names_and_services_are_invalid_scope(
    http: TestClient, anna: Account, scope: str
) -> None:
    response = http.get(request_for(scope=scope).url)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    assert query_of(location)["error"] == "invalid_scope"


def test_a_refresh_cannot_switch_to_another_provider(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    request = request_for(scope=READ_PLAN)
    page = browser.login(request.url, anna)
    token = exchange(http, browser.consent(page, duration="until_revoked"), request.verifier)
    refresh = http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token.json()["refresh_token"],
            "client_id": PUBLIC_APP,
            "scope": "other-provider~zorgleefplan",
        },
    )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_scope"


@pytest.fixture
def renamed(db_engine: Engine, clock: FakeClock) -> Iterator[TestClient]:
    """The same database served under the provider name of the network's provider list."""
    settings = Settings(
        database_url="unused://",
        secret_key=TEST_SECRET_KEY,
        dev_mode=True,
        provider_name="umcharderwijk@medmij",
    )
    other: FastAPI = create_app(settings, db_engine)
    other.state.oauth.clock = clock
    with TestClient(other, follow_redirects=False) as http:
        yield http


def test_the_provider_name_is_a_setting(
    renamed: TestClient, db_engine: Engine, clock: FakeClock, anna: Account
) -> None:
    with transaction(db_engine) as conn:
        register_client(
            conn,
            ClientRegistration(
                client_id=PUBLIC_APP,
                name="Voorbeeld PGO B.V.",
                redirect_uris=(REDIRECT,),
                scopes="umcharderwijk@medmij~zorgleefplan",
                public=True,
            ),
            clock(),
            provider_name="umcharderwijk@medmij",
        )
        with pytest.raises(AdminError, match="not for this provider"):
            register_client(
                conn,
                ClientRegistration(
                    client_id=PUBLIC_APP,
                    name="Voorbeeld PGO B.V.",
                    redirect_uris=(REDIRECT,),
                    scopes="pgo-service~zorgleefplan",
                    public=True,
                ),
                clock(),
                provider_name="umcharderwijk@medmij",
            )
    old_name = renamed.get(request_for(scope=READ_PLAN).url)
    assert query_of(old_name.headers["location"])["error"] == "invalid_scope"
    request = request_for(scope="umcharderwijk@medmij~zorgleefplan")
    browser = FormBrowser(renamed, clock)
    token = exchange(renamed, browser.consent(browser.login(request.url, anna)), request.verifier)
    assert token.status_code == 200, token.text
    plans = renamed.get("/fhir/CarePlan", headers=_as(token.json()["access_token"]))
    assert plans.status_code == 200


def test_tokens_granted_under_the_old_name_keep_working(
    http: TestClient, browser: FormBrowser, renamed: TestClient, anna: Account
) -> None:
    request = request_for(scope=READ_PLAN)
    token = exchange(http, browser.consent(browser.login(request.url, anna)), request.verifier)
    after_rename = renamed.get("/fhir/CarePlan", headers=_as(token.json()["access_token"]))
    assert after_rename.status_code == 200
