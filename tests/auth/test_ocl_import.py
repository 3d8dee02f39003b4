"""Importing MedMij's OAuth client list: strict checks, newer lists only, all or nothing,
and apps that drop off the list lose their access."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pgo_service.auth.admin import AdminError, import_ocl, mint_token
from pgo_service.auth.tokens import utc_now
from pgo_service.db.auth_tables import client_list, oauth_client
from pgo_service.db.engine import transaction

from .builders import (
    CONFIDENTIAL_APP,
    CONFIDENTIAL_REDIRECT,
    CONFIDENTIAL_SECRET,
    PUBLIC_APP,
    Account,
    FormBrowser,
    authorize_request,
    exchange,
)

NS = "xmlns://afsprakenstelsel.medmij.nl/oauthclientlist/release2/"


def client_xml(hostname: str, name: str) -> str:
    return (
        "<OAuthclient>"
        f"<Hostname>{hostname}</Hostname>"
        f"<OAuthclientOrganisatienaam>{name}</OAuthclientOrganisatienaam>"
        "</OAuthclient>"
    )


def ocl_xml(
    number: int | str,
    clients: dict[str, str] | str,
    *,
    namespace: str = NS,
    stamp: str = "2026-11-01T12:00:00Z",
) -> bytes:
    body = (
        clients
        if isinstance(clients, str)
        else "".join(client_xml(h, n) for h, n in clients.items())
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OAuthclientlist xmlns="{namespace}"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="{namespace} MedMij_OAuthclientlist.xsd">\n'
        f"  <Tijdstempel>{stamp}</Tijdstempel>\n"
        f"  <Volgnummer>{number}</Volgnummer>\n"
        f"  <OAuthclients>{body}</OAuthclients>\n"
        "</OAuthclientlist>\n"
    ).encode()


def _import(engine: Engine, document: bytes) -> int:
    with transaction(engine) as conn:
        return import_ocl(conn, document, utc_now()).imported


def _state(engine: Engine) -> tuple[dict[str, str], int | None]:
    with transaction(engine, write=False) as conn:
        names = dict(
            conn.execute(select(oauth_client.c.client_id, oauth_client.c.organisation_name)).all()
        )
        number = conn.execute(select(client_list.c.sequence_number)).scalar()
    return {str(k): str(v) for k, v in names.items()}, number


GOOD = {"app.pgo.example": "Voorbeeld PGO", "medmij.deenigeechtepgo.nl": "De Enige Echte PGO"}

BAD_LISTS = {
    "not well-formed": b"<OAuthclientlist><Volgnummer>9</Volgnummer>",
    "no namespace": ocl_xml(9, GOOD).replace(f' xmlns="{NS}"'.encode(), b""),
    "other namespace": ocl_xml(9, GOOD, namespace="urn:example:not-medmij"),
    "release 1 namespace": ocl_xml(9, GOOD, namespace=NS.replace("release2", "release1")),
    "DTD": b'<!DOCTYPE x [<!ENTITY e "x">]>' + ocl_xml(9, GOOD),
    "Volgnummer zero": ocl_xml(0, GOOD),
    "Volgnummer negative": ocl_xml(-3, GOOD),
    "Volgnummer not a number": ocl_xml("negen", GOOD),
    "Volgnummer missing": ocl_xml(9, GOOD).replace(b"<Volgnummer>9</Volgnummer>", b""),
    "Tijdstempel not a dateTime": ocl_xml(9, GOOD, stamp="gisteren"),
    "Tijdstempel a date only": ocl_xml(9, GOOD, stamp="2026-11-01"),
    "elements out of order": ocl_xml(9, GOOD).replace(
        b"<Tijdstempel>2026-11-01T12:00:00Z</Tijdstempel>\n  <Volgnummer>9</Volgnummer>",
        b"<Volgnummer>9</Volgnummer>\n  <Tijdstempel>2026-11-01T12:00:00Z</Tijdstempel>",
    ),
    "unknown element": ocl_xml(9, GOOD).replace(
        b"</OAuthclients>", b"</OAuthclients><Extra>x</Extra>"
    ),
    "no clients": ocl_xml(9, {}),
    "stray text": ocl_xml(9, GOOD).replace(b"<OAuthclients>", b"<OAuthclients>hallo"),
    "Hostname missing": ocl_xml(
        9, "<OAuthclient><OAuthclientOrganisatienaam>X</OAuthclientOrganisatienaam></OAuthclient>"
    ),
    "Organisatienaam empty": ocl_xml(9, {"app.pgo.example": " "}),
    "Hostname with scheme": ocl_xml(9, {"https://app.pgo.example": "X"}),
    "Hostname with path": ocl_xml(9, {"app.pgo.example/cb": "X"}),
    "Hostname with port": ocl_xml(9, {"app.pgo.example:443": "X"}),
    "Hostname not qualified": ocl_xml(9, {"localhost": "X"}),
    "Hostname an IP address": ocl_xml(9, {"192.168.1.10": "X"}),
    "Hostname label with leading hyphen": ocl_xml(9, {"-app.pgo.example": "X"}),
    "Hostname label too long": ocl_xml(9, {"a" * 64 + ".example": "X"}),
    "Hostname with underscore": ocl_xml(9, {"app_1.pgo.example": "X"}),
    "Hostname twice": ocl_xml(
        9, client_xml("app.pgo.example", "A") + client_xml("APP.pgo.example", "B")
    ),
    # The first client is fine; the second is not: the first must not be imported either.
    "second client bad": ocl_xml(
        9, client_xml("new.pgo.example", "Nieuw") + client_xml("bad host", "X")
    ),
}


@pytest.mark.parametrize("document", BAD_LISTS.values(), ids=BAD_LISTS.keys())
def test_a_bad_list_is_refused_whole(db_engine: Engine, document: bytes) -> None:
    assert _import(db_engine, ocl_xml(8, GOOD)) == 2
    before = _state(db_engine)
    with pytest.raises(AdminError, match="invalid OAuth client list"):
        _import(db_engine, document)
    assert _state(db_engine) == before


def test_a_good_list_is_imported(db_engine: Engine) -> None:
    assert _import(db_engine, ocl_xml(8, GOOD)) == 2
    assert _state(db_engine) == (GOOD, 8)
    renamed = {**GOOD, "app.pgo.example": "Voorbeeld PGO B.V."}
    assert _import(db_engine, ocl_xml(9, renamed)) == 2
    assert _state(db_engine) == (renamed, 9)


@pytest.mark.parametrize("number", [7, 8])
def test_an_older_or_the_same_list_is_refused(db_engine: Engine, number: int) -> None:
    _import(db_engine, ocl_xml(8, GOOD))
    with pytest.raises(AdminError, match="only a newer list is imported"):
        _import(db_engine, ocl_xml(number, {**GOOD, "app.pgo.example": "Oude naam"}))
    assert _state(db_engine) == (GOOD, 8)


def test_a_client_dropped_from_the_list_is_disabled(
    http: TestClient, browser: FormBrowser, db_engine: Engine, anna: Account
) -> None:
    _import(db_engine, ocl_xml(1, {PUBLIC_APP: "Voorbeeld PGO B.V."}))
    request = authorize_request()
    page = browser.login(request.url, anna)
    tokens = exchange(http, browser.consent(page, duration="until_revoked"), request.verifier)
    access, refresh = tokens.json()["access_token"], tokens.json()["refresh_token"]
    pending = authorize_request()  # approved, but the code is not exchanged yet
    code_location = browser.consent(http.get(pending.url))
    assert _fhir(http, access) == 200

    with transaction(db_engine) as conn:
        result = import_ocl(conn, ocl_xml(2, {"ander.pgo.example": "Ander"}), utc_now())
    assert result.disabled == (PUBLIC_APP,)

    assert _fhir(http, access) == 401
    introspected = http.post(
        "/oauth/introspect", data={"token": access}, auth=(CONFIDENTIAL_APP, CONFIDENTIAL_SECRET)
    )
    assert introspected.json() == {"active": False}
    refreshed = http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh, "client_id": PUBLIC_APP},
    )
    assert refreshed.status_code == 401
    assert refreshed.json()["error"] == "invalid_client"
    late_code = exchange(http, code_location, pending.verifier)
    assert late_code.status_code == 401
    assert late_code.json()["error"] == "invalid_client"
    refused = http.get(authorize_request().url)
    assert refused.status_code == 400
    assert "location" not in refused.headers
    assert "unauthorized_client" in refused.text
    assert "U heeft geen apps" in http.get("/account").text
    # A client registered by the operator and never on the list is not affected.
    other = authorize_request(
        client_id=CONFIDENTIAL_APP, redirect_uri=CONFIDENTIAL_REDIRECT, scope="patient/CarePlan.rs"
    )
    assert "Toestemming geven" in http.get(other.url).text

    # Listed again: it may ask anew; what it held before stays revoked.
    _import(db_engine, ocl_xml(3, {PUBLIC_APP: "Voorbeeld PGO B.V."}))
    again = authorize_request()
    fresh = exchange(http, browser.consent(http.get(again.url)), again.verifier)
    assert _fhir(http, fresh.json()["access_token"]) == 200
    assert _fhir(http, access) == 401


def test_a_disabled_client_gets_no_operator_token(db_engine: Engine, apps: None) -> None:
    _import(db_engine, ocl_xml(1, {PUBLIC_APP: "Voorbeeld PGO B.V."}))
    _import(db_engine, ocl_xml(2, {"ander.pgo.example": "Ander"}))
    with transaction(db_engine) as conn, pytest.raises(AdminError, match="disabled"):
        mint_token(
            conn,
            subject="Patient/anna",
            client_id=PUBLIC_APP,
            scope="patient/CarePlan.rs",
            now=utc_now(),
        )


def _fhir(http: TestClient, token: str) -> int:
    response = http.get("/fhir/CarePlan", headers={"Authorization": f"Bearer {token}"})
    return response.status_code
