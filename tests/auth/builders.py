"""Builders for the authorization tests: clients, users, a clock and a form-filling browser."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from sqlalchemy import Engine

from pgo_service.auth.admin import ClientRegistration, add_user, register_client
from pgo_service.auth.crypto import SecretBox
from pgo_service.auth.totp import STEP_SECONDS, totp_at
from pgo_service.db.engine import transaction

from ..conftest import TEST_SECRET_KEY

PUBLIC_APP = "app.pgo.example"
REDIRECT = "https://app.pgo.example/callback"
CONFIDENTIAL_APP = "web.pgo.example"
CONFIDENTIAL_REDIRECT = "https://web.pgo.example/oauth/done"
CONFIDENTIAL_SECRET = "s3cret-of-the-web-app-0123456789"
PASSWORD = "correct horse battery staple"
SCOPE = "patient/CarePlan.rs patient/Patient.rs patient/Goal.cruds"


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Account:
    login: str
    totp_secret: str
    actor: str


def register_apps(engine: Engine, now: datetime) -> None:
    with transaction(engine) as conn:
        register_client(
            conn,
            ClientRegistration(
                client_id=PUBLIC_APP,
                name="Voorbeeld PGO B.V.",
                redirect_uris=(REDIRECT,),
                scopes="patient/*.cruds user/*.cruds pgo-service~zorgleefplan",
                public=True,
            ),
            now,
        )
        register_client(
            conn,
            ClientRegistration(
                client_id=CONFIDENTIAL_APP,
                name="Web PGO",
                redirect_uris=(CONFIDENTIAL_REDIRECT,),
                scopes="patient/*.rs",
                secret=CONFIDENTIAL_SECRET,
            ),
            now,
        )


def add_account(
    engine: Engine, login: str, actor: str, now: datetime, represents: tuple[str, ...] = ()
) -> Account:
    with transaction(engine) as conn:
        uri = add_user(
            conn,
            SecretBox(TEST_SECRET_KEY),
            login_name=login,
            password=PASSWORD,
            actor_reference=actor,
            represents=represents,
            now=now,
        )
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    return Account(login, secret, actor)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class AuthRequest:
    url: str
    verifier: str
    state: str


def authorize_request(**overrides: str | None) -> AuthRequest:
    verifier, challenge = pkce_pair()
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": PUBLIC_APP,
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": "st-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return AuthRequest("/oauth/authorize?" + query, verifier, str(params.get("state")))


def exchange(http: httpx.Client, location: str, verifier: str, **extra: str) -> httpx.Response:
    """The client's token request for the code in ``location`` (RFC 6749 §4.1.3)."""
    data = {
        "grant_type": "authorization_code",
        "code": query_of(location)["code"],
        "redirect_uri": REDIRECT,
        "client_id": PUBLIC_APP,
        "code_verifier": verifier,
        **extra,
    }
    return http.post("/oauth/token", data=data)


_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


class FormBrowser:
    """Fills in the login, TOTP, patient and consent pages like a person would."""

    def __init__(self, http: httpx.Client, clock: FakeClock) -> None:
        self.http = http
        self.clock = clock

    def login(self, url: str, account: Account, patient: str | None = None) -> httpx.Response:
        """From the authorization URL to the consent page."""
        page = self.http.get(url)
        assert page.status_code == 200, page.text
        page = self.submit("/oauth/login", page.text, login_name=account.login, password=PASSWORD)
        # A TOTP code works once: a later login in the same test waits for the next one.
        self.clock.advance(STEP_SECONDS)
        code = totp_at(account.totp_secret, self.clock())
        page = self.submit("/oauth/totp", page.text, code=code)
        if "Voor wie handelt u?" in page.text:
            assert patient is not None
            page = self.submit("/oauth/patient", page.text, patient_id=patient)
        assert "Toestemming geven" in page.text, page.text
        return page

    def submit(self, action: str, page: str, **fields: str) -> httpx.Response:
        response = self.http.post(action, data={**hidden_fields(page), **fields})
        while response.status_code == 303 and response.headers["location"].startswith("/"):
            response = self.http.get(response.headers["location"])
        return response

    def consent(self, page: httpx.Response, decision: str = "approve", **extra: str) -> str:
        """Submit the consent form; returns the Location the browser is sent to."""
        data = {**hidden_fields(page.text), "decision": decision, "duration": "session", **extra}
        response = self.http.post("/oauth/authorize", data=data)
        assert response.status_code == 303, response.text
        location: str = response.headers["location"]
        return location


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
