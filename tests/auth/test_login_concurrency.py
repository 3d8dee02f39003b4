"""Login throttling under simultaneous requests, through a real server on both backends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from pgo_service.auth.login import FAILED, LOCKED
from pgo_service.db.auth_tables import login_throttle
from pgo_service.db.engine import transaction

from ..support.liveserver import LiveServer
from .builders import PASSWORD, Account, FakeClock, authorize_request, hidden_fields


@pytest.fixture
def server(app: FastAPI, clock: FakeClock) -> Iterator[str]:
    with LiveServer(app) as url:
        yield url


def _login_page(server: str) -> tuple[httpx.Client, dict[str, str]]:
    """A browser of its own (own session cookie) standing on the login page."""
    browser = httpx.Client(base_url=server, timeout=60)
    page = browser.get(authorize_request().url)
    assert page.status_code == 200, page.text
    return browser, hidden_fields(page.text)


def _simultaneous_logins(server: str, login_name: str, password: str, count: int) -> list[str]:
    """``count`` browsers submit the login form at the same moment; the outcome of each."""
    pages = [_login_page(server) for _ in range(count)]
    start = threading.Barrier(count)

    def submit(page: tuple[httpx.Client, dict[str, str]]) -> str:
        browser, fields = page
        start.wait()
        response = browser.post(
            "/oauth/login", data={**fields, "login_name": login_name, "password": password}
        )
        browser.close()
        if response.status_code == 401 and LOCKED in response.text:
            return "locked"
        if response.status_code == 401 and FAILED in response.text:
            return "failed"
        return f"{response.status_code}"

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(submit, pages))


def _failures(engine: Engine, login_name: str) -> int:
    with transaction(engine, write=False) as conn:
        value = conn.execute(
            select(login_throttle.c.failures).where(login_throttle.c.login_name == login_name)
        ).scalar_one()
    return int(value)


def test_simultaneous_first_failures_are_all_counted(
    server: str, db_engine: Engine, anna: Account
) -> None:
    outcomes = _simultaneous_logins(server, "anna", "wrong password!", 4)
    assert outcomes == ["failed"] * 4
    assert _failures(db_engine, "anna") == 4
    unknown = _simultaneous_logins(server, "nobody", "wrong password!", 4)
    assert unknown == ["failed"] * 4
    assert _failures(db_engine, "nobody") == 4


def test_parallel_guesses_are_throttled_like_serial_ones(
    server: str, db_engine: Engine, anna: Account
) -> None:
    outcomes = _simultaneous_logins(server, "anna", "wrong password!", 10)
    assert sorted(outcomes) == ["failed"] * 5 + ["locked"] * 5
    assert _failures(db_engine, "anna") == 5
    # The right password does not get through the lock either, however it is sent.
    assert _simultaneous_logins(server, "anna", PASSWORD, 3) == ["locked"] * 3
