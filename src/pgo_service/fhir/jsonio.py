"""JSON in and out.

Decimals are parsed as ``decimal.Decimal`` and written back with their exact
digits (``1.50`` stays ``1.50``), as FHIR requires; everything else goes through
orjson. Stored resources are served as the bytes we wrote, never re-serialised.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from .errors import Category, FhirError


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(
            body,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_reject_duplicates,
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise FhirError(Category.INVALID, f"The body is not valid JSON: {exc}") from exc


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dump_json(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def raw(content: bytes) -> orjson.Fragment:
    """Embed already-serialised JSON in a document written by ``dump_json``."""
    return orjson.Fragment(content)
