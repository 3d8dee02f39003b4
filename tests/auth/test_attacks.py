"""The issue's list of bad input and attacks: each gets its RFC error, nothing stays granted."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pgo_service.auth.totp import totp_at

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
    hidden_fields,
    query_of,
)


def _approved(browser: FormBrowser, account: Account, long_term: bool = False) -> tuple[str, str]:
    request = authorize_request()
    page = browser.login(request.url, account)
    duration = "until_revoked" if long_term else "session"
    return browser.consent(page, duration=duration), request.verifier


def _fhir_status(http: TestClient, token: str) -> int:
    response = http.get("/fhir/CarePlan", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def test_missing_state_is_sent_back_as_invalid_request(http: TestClient, anna: Account) -> None:
    response = http.get(authorize_request(state=None).url)
    assert response.status_code == 303
    assert response.headers["location"].startswith(REDIRECT + "?")
    assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_state_is_returned_exactly(browser: FormBrowser, anna: Account) -> None:
    request = authorize_request(state="a b&c=d")
    location = browser.consent(browser.login(request.url, anna))
    assert query_of(location)["state"] == "a b&c=d"


def test_unregistered_redirect_is_shown_not_followed(http: TestClient, anna: Account) -> None:
    for uri in (
        "https://evil.example/callback",
        REDIRECT + "/../x",
        "https://app.pgo.example/callback?next=https://evil.example",
        "https://app.pgo.example.evil.example/callback",
        "http://app.pgo.example/callback",
    ):
        response = http.get(authorize_request(redirect_uri=uri).url)
        assert response.status_code == 400, uri
        assert "location" not in response.headers


def test_unknown_client_gets_a_page_not_a_redirect(http: TestClient, anna: Account) -> None:
    response = http.get(authorize_request(client_id="nobody.example").url)
    assert response.status_code == 400
    assert "location" not in response.headers
    token = http.post(
        "/oauth/token", data={"grant_type": "authorization_code", "client_id": "nobody.example"}
    )
    assert token.status_code == 401
    assert token.json()["error"] == "invalid_client"


def test_public_client_must_use_pkce_s256(http: TestClient, anna: Account) -> None:
    for overrides in ({"code_challenge": None}, {"code_challenge_method": "plain"}):
        response = http.get(authorize_request(**overrides).url)
        assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_scope_beyond_registration_is_invalid_scope(http: TestClient, anna: Account) -> None:
    for scope in ("system/*.cruds", "patient/CarePlan.rs made-up", "patient/CarePlan.sr"):
        response = http.get(authorize_request(scope=scope).url)
        assert query_of(response.headers["location"])["error"] == "invalid_scope", scope


def test_pkce_mismatch_and_redirect_mismatch_spend_the_code(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    location, verifier = _approved(browser, anna)
    wrong = exchange(http, location, "x" * 50)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert exchange(http, location, verifier).json()["error"] == "invalid_grant"

    location, verifier = _approved(browser, anna)
    other = exchange(http, location, verifier, redirect_uri="https://app.pgo.example/other")
    assert other.json()["error"] == "invalid_grant"


def test_code_replay_revokes_the_tokens_it_produced(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    location, verifier = _approved(browser, anna, long_term=True)
    first = exchange(http, location, verifier).json()
    assert _fhir_status(http, first["access_token"]) == 200
    replay = exchange(http, location, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert _fhir_status(http, first["access_token"]) == 401
    refresh = http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": PUBLIC_APP,
        },
    )
    assert refresh.json()["error"] == "invalid_grant"


def test_code_expires_after_sixty_seconds(
    http: TestClient, browser: FormBrowser, clock: FakeClock, anna: Account
) -> None:
    location, verifier = _approved(browser, anna)
    clock.advance(61)
    assert exchange(http, location, verifier).json()["error"] == "invalid_grant"


def test_code_is_bound_to_its_client(http: TestClient, browser: FormBrowser, anna: Account) -> None:
    location, verifier = _approved(browser, anna)
    stolen = exchange(
        http, location, verifier, client_id=CONFIDENTIAL_APP, client_secret=CONFIDENTIAL_SECRET
    )
    assert stolen.json()["error"] == "invalid_grant"


def test_access_token_expires_with_two_seconds_leeway(
    http: TestClient, browser: FormBrowser, clock: FakeClock, anna: Account
) -> None:
    location, verifier = _approved(browser, anna)
    token = exchange(http, location, verifier).json()["access_token"]
    clock.advance(15 * 60 + 1)
    assert _fhir_status(http, token) == 200
    clock.advance(2)
    response = http.get("/fhir/CarePlan", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["resourceType"] == "OperationOutcome"


def test_refresh_reuse_after_rotation_revokes_the_family(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    location, verifier = _approved(browser, anna, long_term=True)
    first = exchange(http, location, verifier).json()

    def refresh(token: str) -> dict[str, str]:
        data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": PUBLIC_APP}
        body: dict[str, str] = http.post("/oauth/token", data=data).json()
        return body

    second = refresh(first["refresh_token"])
    assert "access_token" in second
    assert refresh(first["refresh_token"])["error"] == "invalid_grant"
    assert refresh(second["refresh_token"])["error"] == "invalid_grant"
    assert _fhir_status(http, second["access_token"]) == 401


def test_refresh_token_lapses_after_six_months_unused(
    http: TestClient, browser: FormBrowser, clock: FakeClock, anna: Account
) -> None:
    location, verifier = _approved(browser, anna, long_term=True)
    first = exchange(http, location, verifier).json()
    clock.advance(184 * 24 * 3600)
    data = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": PUBLIC_APP,
    }
    assert http.post("/oauth/token", data=data).json()["error"] == "invalid_grant"


def test_revocation_of_refresh_token_ends_access(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    location, verifier = _approved(browser, anna, long_term=True)
    token = exchange(http, location, verifier).json()
    revoked = http.post(
        "/oauth/revoke", data={"token": token["refresh_token"], "client_id": PUBLIC_APP}
    )
    assert revoked.status_code == 200
    assert _fhir_status(http, token["access_token"]) == 401
    unknown = http.post("/oauth/revoke", data={"token": "nonsense", "client_id": PUBLIC_APP})
    assert unknown.status_code == 200


def test_tampered_token_is_rejected(http: TestClient, browser: FormBrowser, anna: Account) -> None:
    location, verifier = _approved(browser, anna)
    token = exchange(http, location, verifier).json()["access_token"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert _fhir_status(http, tampered) == 401


def test_consent_without_csrf_token_grants_nothing(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    request = authorize_request()
    page = browser.login(request.url, anna)
    fields = hidden_fields(page.text)
    fields["csrf_token"] = "forged"
    response = http.post("/oauth/authorize", data={**fields, "decision": "approve"})
    assert response.status_code == 403
    assert "location" not in response.headers


def test_denied_consent_redirects_access_denied(browser: FormBrowser, anna: Account) -> None:
    request = authorize_request()
    location = browser.consent(browser.login(request.url, anna), decision="deny")
    assert query_of(location) == {
        "error": "access_denied",
        "error_description": "The user did not give consent",
        "state": request.state,
    }


def test_brute_force_login_is_throttled(
    http: TestClient, browser: FormBrowser, clock: FakeClock, anna: Account
) -> None:
    page = http.get(authorize_request().url)
    for _ in range(5):
        page = browser.submit("/oauth/login", page.text, login_name="anna", password="wrong!")
        assert page.status_code == 401
    locked = browser.submit("/oauth/login", page.text, login_name="anna", password=PASSWORD)
    assert "Te veel mislukte pogingen" in locked.text
    clock.advance(61)
    ok = browser.submit("/oauth/login", locked.text, login_name="anna", password=PASSWORD)
    assert "code uit uw app" in ok.text
    wrong_totp = browser.submit("/oauth/totp", ok.text, code="000000")
    assert wrong_totp.status_code == 401
    locked_again = browser.submit("/oauth/totp", ok.text, code=totp_at(anna.totp_secret, clock()))
    assert "Te veel mislukte pogingen" in locked_again.text  # the lock doubles: 2 minutes
    clock.advance(121)
    good = browser.submit("/oauth/totp", ok.text, code=totp_at(anna.totp_secret, clock()))
    assert "Toestemming geven" in good.text


def test_unknown_login_name_fails_like_a_wrong_password(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    page = http.get(authorize_request().url)
    unknown = browser.submit("/oauth/login", page.text, login_name="nobody", password="x")
    wrong = browser.submit("/oauth/login", page.text, login_name="anna", password="x")
    assert unknown.status_code == wrong.status_code == 401
    assert "De combinatie van gegevens klopt niet." in unknown.text
    assert "De combinatie van gegevens klopt niet." in wrong.text
