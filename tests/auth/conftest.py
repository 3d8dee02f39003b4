"""Fixtures of the authorization tests: registered apps, accounts and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from .builders import Account, FakeClock, FormBrowser, add_account, register_apps


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    fake = FakeClock()
    app.state.oauth.clock = fake
    return fake


@pytest.fixture
def apps(db_engine: Engine, clock: FakeClock) -> None:
    register_apps(db_engine, clock())


@pytest.fixture
def anna(db_engine: Engine, clock: FakeClock, apps: None) -> Account:
    return add_account(db_engine, "anna", "Patient/anna", clock())


@pytest.fixture
def rob(db_engine: Engine, clock: FakeClock, apps: None) -> Account:
    """A representative (gevolmachtigde) of anna and of bert."""
    return add_account(db_engine, "rob", "RelatedPerson/rob", clock(), ("anna", "bert"))


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    """A browser-like client with no default token."""
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client


@pytest.fixture
def browser(http: TestClient, clock: FakeClock) -> FormBrowser:
    return FormBrowser(http, clock)
