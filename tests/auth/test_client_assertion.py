"""private_key_jwt (RFC 7523) for provider systems and the operator's back ends."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import Engine

from pgo_service.auth.admin import ClientRegistration, register_client
from pgo_service.auth.client_auth import ASSERTION_TYPE
from pgo_service.auth.tokens import utc_now
from pgo_service.db.engine import transaction

from ..support.liveserver import LiveServer
from .builders import FakeClock

EHR = "ehr.zorgaanbieder.example"
TOKEN_URL = "http://testserver/oauth/token"


@pytest.fixture
def key(db_engine: Engine, clock: FakeClock) -> RSAKey:
    private = RSAKey.generate_key(2048, parameters={"kid": "ehr-1"})
    with transaction(db_engine) as conn:
        register_client(
            conn,
            ClientRegistration(
                client_id=EHR,
                name="Zorgaanbieder EHR",
                redirect_uris=(),
                scopes="system/*.rs",
                jwks={"keys": [private.as_dict(private=False)]},
                system=True,
            ),
            utc_now(),
        )
    return private


def _assertion(key: RSAKey, clock: FakeClock, **claims: Any) -> str:
    now = int(clock().timestamp())
    payload = {
        "iss": EHR,
        "sub": EHR,
        "aud": TOKEN_URL,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
        **claims,
    }
    return jwt.encode({"alg": "RS256", "kid": "ehr-1"}, payload, key)


def _token(http: TestClient, assertion: str) -> Any:
    data = {
        "grant_type": "client_credentials",
        "scope": "system/*.rs",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    return http.post("/oauth/token", data=data)


def test_signed_assertion_gets_a_system_token(
    http: TestClient, key: RSAKey, clock: FakeClock
) -> None:
    response = _token(http, _assertion(key, clock))
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert http.get("/fhir/Goal", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    write = http.post(
        "/fhir/Goal", json={}, headers={"Authorization": f"Bearer {token}"}
    )  # .rs only
    assert write.status_code == 403


def test_replayed_jti_is_refused(http: TestClient, key: RSAKey, clock: FakeClock) -> None:
    assertion = _assertion(key, clock)
    assert _token(http, assertion).status_code == 200
    replay = _token(http, assertion)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


def test_tampered_or_foreign_assertions_are_refused(
    http: TestClient, key: RSAKey, clock: FakeClock
) -> None:
    header, payload, signature = _assertion(key, clock).split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    stranger = RSAKey.generate_key(2048, parameters={"kid": "ehr-1"})
    for assertion in (
        f"{header}.{payload}.{flipped}",
        _assertion(stranger, clock),
        _assertion(key, clock, aud="https://elsewhere.example/token"),
        _assertion(key, clock, exp=int(clock().timestamp()) - 10),
        _assertion(key, clock, exp=int(clock().timestamp()) + 3600),
        "not-a-jwt",
    ):
        response = _token(http, assertion)
        assert response.status_code == 401, assertion
        assert response.json()["error"] == "invalid_client"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_unsigned_altered_or_incomplete_assertions_are_refused(
    http: TestClient, key: RSAKey, clock: FakeClock
) -> None:
    header, payload, signature = _assertion(key, clock).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    later = {**claims, "exp": claims["exp"] + 200, "jti": "other"}
    without_jti = {k: v for k, v in claims.items() if k != "jti"}
    for assertion in (
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",  # alg none
        f"{_b64({'alg': 'HS256', 'kid': 'ehr-1'})}.{payload}.{signature}",  # alg swapped
        f"{header}.{_b64(later)}.{signature}",  # claims changed, signature kept
        jwt.encode({"alg": "RS256", "kid": "ehr-1"}, without_jti, key),
        _assertion(key, clock, sub="someone-else.example"),
        _assertion(key, clock, iss="app.pgo.example", sub="app.pgo.example"),
    ):
        response = _token(http, assertion)
        assert response.status_code == 401, assertion
        assert response.json()["error"] == "invalid_client"


@pytest.fixture
def server(app: FastAPI, clock: FakeClock) -> Iterator[str]:
    with LiveServer(app) as url:
        yield url


def test_one_assertion_sent_twice_at_once_is_accepted_once(
    server: str, key: RSAKey, clock: FakeClock
) -> None:
    assertion = _assertion(key, clock, aud=f"{server}/oauth/token")
    start = threading.Barrier(4)

    def send(_: int) -> int:
        with httpx.Client(base_url=server, timeout=60) as http:
            start.wait()
            response = http.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "scope": "system/*.rs",
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": assertion,
                },
            )
            return response.status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(send, range(4)))
    assert statuses == [200, 401, 401, 401]
