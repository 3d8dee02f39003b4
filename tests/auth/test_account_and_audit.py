"""The account page revokes granted apps; every step leaves an AuditEvent without secrets."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .builders import PASSWORD, Account, FormBrowser, authorize_request, exchange, hidden_fields


def test_account_page_lists_and_revokes_long_term_consent(
    http: TestClient, browser: FormBrowser, anna: Account
) -> None:
    request = authorize_request()
    location = browser.consent(browser.login(request.url, anna), duration="until_revoked")
    token = exchange(http, location, request.verifier).json()
    page = http.get("/account")
    assert "Voorbeeld PGO B.V." in page.text
    revoke = page.text.split('action="')[1].split('"')[0]
    response = http.post(revoke, data={"csrf_token": hidden_fields(page.text)["csrf_token"]})
    assert response.status_code == 303
    assert "U heeft geen apps" in http.get("/account").text
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert http.get("/fhir/Goal", headers=headers).status_code == 401


def test_audit_trail_has_no_secrets(
    http: TestClient, browser: FormBrowser, anna: Account, system_bearer: str
) -> None:
    request = authorize_request()
    page = http.get(request.url)
    browser.submit("/oauth/login", page.text, login_name="anna", password="wrong password")
    location = browser.consent(browser.login(request.url, anna), duration="until_revoked")
    response = exchange(http, location, request.verifier)
    token = response.json()
    http.post(
        "/oauth/revoke",
        data={"token": token["refresh_token"], "client_id": "app.pgo.example"},
    )
    events = http.get(
        "/fhir/AuditEvent",
        params={"_count": 100},
        headers={"Authorization": f"Bearer {system_bearer}"},
    )
    bodies = [e["resource"] for e in events.json()["entry"]]
    codes = sorted(e["subtype"][0]["code"] for e in bodies)
    assert codes == ["authorize", "login", "login-failed", "revoke", "token"]
    text = events.text
    for secret in (token["access_token"], token["refresh_token"], "wrong password", PASSWORD):
        assert secret not in text
    assert all(
        a["who"].get("reference") in (None, "Patient/anna") for e in bodies for a in e["agent"]
    )
