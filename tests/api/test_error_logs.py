"""An unexpected error is logged by kind and stack: no BSN from its text or its path."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pgo_service.api.errors import FailureWithoutText
from pgo_service.careplan.bsn import mask_bsns

BSN = "999911120"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter().format(record))


def test_an_unexpected_error_is_logged_without_its_text_or_a_bsn_in_its_path(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(number: str) -> None:
        raise RuntimeError(f"Failing row contains ({BSN}, {number})")

    app.add_api_route("/boom/{number}", boom)
    # Starlette raises the error again after the handler answered; uvicorn logs it.
    server_log = logging.getLogger("uvicorn.error")
    collected = _Collect()
    server_log.addHandler(collected)
    try:
        with (
            caplog.at_level(logging.ERROR),
            TestClient(app, raise_server_exceptions=False) as http,
        ):
            response = http.get(f"/boom/{BSN}")
            try:
                raise RuntimeError(f"Failing row contains ({BSN})")
            except RuntimeError:
                server_log.exception("Exception in ASGI application")
    finally:
        server_log.removeHandler(collected)
    assert response.status_code == 500
    assert "unhandled error on GET /boom/*********" in caplog.text
    assert "RuntimeError" in caplog.text
    assert any("Exception in ASGI application: RuntimeError" in line for line in collected.lines)
    assert any("test_error_logs.py" in line for line in collected.lines)  # the stack
    assert BSN not in caplog.text + "".join(collected.lines)


def test_the_filter_leaves_records_without_an_exception_alone() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, "started %s", ("x",), None)
    assert FailureWithoutText().filter(record)
    assert record.getMessage() == "started x"


def test_only_bsns_are_masked() -> None:
    assert mask_bsns(f"/fhir/Patient/{BSN}/_history") == "/fhir/Patient/*********/_history"
    assert mask_bsns("/fhir/Patient/123456789") == "/fhir/Patient/123456789"  # fails the 11-test
    assert mask_bsns(f"/fhir/Patient/x{BSN}") == f"/fhir/Patient/x{BSN}"  # not on its own
