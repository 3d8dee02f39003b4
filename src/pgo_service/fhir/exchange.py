"""Framework-independent request and response of the FHIR engine.

The HTTP layer and the Bundle processor both speak this: a request in, a response
out. Nothing here knows about Starlette.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import Category, FhirError
from .jsonio import dump_json
from .store import StoredVersion, format_instant

if TYPE_CHECKING:
    from .prepare import CheckedBody


@dataclass
class FhirRequest:
    method: str
    path: str  # relative to the FHIR base, without leading slash: "Patient/1/_history"
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: Any = None  # parsed JSON
    base_url: str = ""
    assigned_id: str | None = None  # id chosen for a create inside a transaction
    checked: CheckedBody | None = None  # the body checked ahead of the transaction

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def _prefer(self, key: str) -> str | None:
        for part in (self.header("prefer") or "").split(";"):
            for item in part.split(","):
                name, _, value = item.strip().partition("=")
                if name.strip().lower() == key:
                    return value.strip().strip('"').lower()
        return None

    @property
    def prefer_return(self) -> str:
        return self._prefer("return") or "representation"

    @property
    def strict(self) -> bool:
        return self._prefer("handling") == "strict"

    def query_value(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None


@dataclass
class FhirResponse:
    status: int
    body: bytes | None = None
    location: str | None = None
    etag: str | None = None
    last_modified: datetime | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, status: int, document: Any, **kwargs: Any) -> FhirResponse:
        return cls(status, dump_json(document), **kwargs)

    @classmethod
    def of_error(cls, error: FhirError) -> FhirResponse:
        return cls(error.status, dump_json(error.outcome()), headers=dict(error.headers))


def version_response(
    request: FhirRequest, stored: StoredVersion, status: int, *, with_location: bool = False
) -> FhirResponse:
    """The response to a write, shaped by ``Prefer: return=...``."""
    location = None
    if with_location:
        location = f"{request.base_url}/{stored.reference}/_history/{stored.version_id}"
    prefer = request.prefer_return
    body: bytes | None = stored.content
    if prefer == "minimal":
        body = None
    elif prefer == "operationoutcome":
        body = dump_json(
            {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "information",
                        "code": "informational",
                        "diagnostics": f"{stored.reference} version {stored.version_id} stored"
                        f" at {format_instant(stored.last_updated)}",
                    }
                ],
            }
        )
    return FhirResponse(
        status,
        body,
        location=location,
        etag=stored.etag,
        last_modified=stored.last_updated,
    )


def parse_etag(value: str) -> int:
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise FhirError(Category.INVALID, f'Malformed ETag {value!r}; expected W/"<version>"')
    return int(text)
