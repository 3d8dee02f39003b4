"""A TOTP code is accepted once (RFC 6238 §5.2), also by another server on the same database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pgo_service.api.app import create_app
from pgo_service.auth.login import FAILED
from pgo_service.auth.totp import STEP_SECONDS, totp_at
from pgo_service.config import Settings

from ..conftest import TEST_SECRET_KEY
from ..support.liveserver import LiveServer
from .builders import PASSWORD, Account, FakeClock, FormBrowser, authorize_request

SIGNED_IN = "Toestemming geven"
STEP = timedelta(seconds=STEP_SECONDS)


def _at_totp_step(http: httpx.Client, clock: FakeClock, account: Account) -> str:
    """A fresh session that has passed the password step; returns the TOTP page."""
    browser = FormBrowser(http, clock)
    page = http.get(authorize_request().url)
    return browser.submit(
        "/oauth/login", page.text, login_name=account.login, password=PASSWORD
    ).text


def _enter_code(http: httpx.Client, clock: FakeClock, page: str, code: str) -> str:
    response = FormBrowser(http, clock).submit("/oauth/totp", page, code=code)
    if SIGNED_IN in response.text:
        return "in"
    assert response.status_code == 401 and FAILED in response.text, response.text
    return "refused"


def _other_server(db_engine: Engine, clock: FakeClock) -> FastAPI:
    """A second server process on the same database: it shares nothing in memory."""
    settings = Settings(database_url="unused://", secret_key=TEST_SECRET_KEY, dev_mode=True)
    other = create_app(settings, db_engine)
    other.state.oauth.clock = clock
    return other


def test_a_used_code_is_refused_within_its_window(
    app: FastAPI, db_engine: Engine, clock: FakeClock, anna: Account
) -> None:
    code = totp_at(anna.totp_secret, clock())
    earlier = totp_at(anna.totp_secret, clock.now - STEP)
    with TestClient(app, follow_redirects=False) as first:
        assert _enter_code(first, clock, _at_totp_step(first, clock, anna), code) == "in"
    with TestClient(_other_server(db_engine, clock), follow_redirects=False) as second:
        page = _at_totp_step(second, clock, anna)
        assert _enter_code(second, clock, page, code) == "refused"
        # The previous step's code is still inside the drift window, but older than
        # the one accepted, so it is spent as well.
        assert _enter_code(second, clock, page, earlier) == "refused"
        clock.advance(STEP_SECONDS)
        assert _enter_code(second, clock, page, code) == "refused"  # drift window, still spent
        assert _enter_code(second, clock, page, totp_at(anna.totp_secret, clock())) == "in"


def test_the_code_of_the_next_step_spends_the_current_one(
    http: TestClient, clock: FakeClock, anna: Account
) -> None:
    ahead = totp_at(anna.totp_secret, clock.now + STEP)  # a phone clock running fast
    assert _enter_code(http, clock, _at_totp_step(http, clock, anna), ahead) == "in"
    with TestClient(http.app, follow_redirects=False) as other:
        page = _at_totp_step(other, clock, anna)
        assert _enter_code(other, clock, page, totp_at(anna.totp_secret, clock())) == "refused"


@pytest.fixture
def server(app: FastAPI, clock: FakeClock) -> Iterator[str]:
    with LiveServer(app) as url:
        yield url


def test_one_code_sent_twice_at_once_signs_in_once(
    server: str, clock: FakeClock, anna: Account
) -> None:
    browsers = [httpx.Client(base_url=server, timeout=60) for _ in range(2)]
    pages = [_at_totp_step(b, clock, anna) for b in browsers]
    code = totp_at(anna.totp_secret, clock())
    start = threading.Barrier(2)

    def submit(index: int) -> str:
        start.wait()
        return _enter_code(browsers[index], clock, pages[index], code)

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(submit, range(2)))
    for browser in browsers:
        browser.close()
    assert outcomes == ["in", "refused"]
