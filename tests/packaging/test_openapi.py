"""openapi/openapi.json is the exported spec of the running code."""

from __future__ import annotations

import json
from pathlib import Path

from pgo_service.api.openapi import export_openapi

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_exported_spec_is_current() -> None:
    current = json.dumps(export_openapi(), indent=2, sort_keys=True) + "\n"
    assert SPEC.read_text() == current, (
        "openapi/openapi.json is stale: run `pgo-service openapi > openapi/openapi.json`"
    )
