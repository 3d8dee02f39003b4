"""The exported OpenAPI document (openapi/openapi.json is this, checked by a test)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.pool import StaticPool

from ..config import Settings
from ..db.engine import make_engine
from .app import create_app


def export_openapi() -> dict[str, Any]:
    engine = make_engine("sqlite://", poolclass=StaticPool)
    try:
        document: dict[str, Any] = create_app(Settings(), engine).openapi()
        return document
    finally:
        engine.dispose()
