"""The one error type of the FHIR engine and the one table that maps it to HTTP.

Domain code raises ``FhirError(Category.X, "message", expression=[...])``; the HTTP
layer and Bundle entry responses both turn it into a status code and an
OperationOutcome with ``outcome_for``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Category(Enum):
    INVALID = "invalid"  # malformed request or resource
    UNPROCESSABLE = "unprocessable"  # well formed but violates a rule
    NOT_FOUND = "not-found"
    GONE = "gone"
    CONFLICT = "conflict"
    PRECONDITION_FAILED = "precondition-failed"
    MULTIPLE_MATCHES = "multiple-matches"
    NOT_ALLOWED = "not-allowed"  # interaction not supported on this path
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    TOO_LARGE = "too-large"
    UNSUPPORTED_MEDIA = "unsupported-media"
    NOT_ACCEPTABLE = "not-acceptable"
    NOT_SUPPORTED = "not-supported"
    BUSY = "busy"
    INTERNAL = "internal"


@dataclass(frozen=True)
class _Mapping:
    status: int
    issue_code: str


_TABLE: dict[Category, _Mapping] = {
    Category.INVALID: _Mapping(400, "invalid"),
    Category.UNPROCESSABLE: _Mapping(422, "processing"),
    Category.NOT_FOUND: _Mapping(404, "not-found"),
    Category.GONE: _Mapping(410, "deleted"),
    Category.CONFLICT: _Mapping(409, "conflict"),
    Category.PRECONDITION_FAILED: _Mapping(412, "conflict"),
    Category.MULTIPLE_MATCHES: _Mapping(412, "multiple-matches"),
    Category.NOT_ALLOWED: _Mapping(405, "not-supported"),
    Category.FORBIDDEN: _Mapping(403, "forbidden"),
    Category.UNAUTHORIZED: _Mapping(401, "login"),
    Category.TOO_LARGE: _Mapping(413, "too-costly"),
    Category.UNSUPPORTED_MEDIA: _Mapping(415, "not-supported"),
    Category.NOT_ACCEPTABLE: _Mapping(406, "not-supported"),
    Category.NOT_SUPPORTED: _Mapping(501, "not-supported"),
    Category.BUSY: _Mapping(503, "transient"),
    Category.INTERNAL: _Mapping(500, "exception"),
}


class FhirError(Exception):
    def __init__(
        self,
        category: Category,
        message: str,
        *,
        expression: Sequence[str] = (),
        issues: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.expression = tuple(expression)
        self.extra_issues = tuple(issues)
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return _TABLE[self.category].status

    def outcome(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": "error" if self.status < 500 else "fatal",
            "code": _TABLE[self.category].issue_code,
            "diagnostics": self.message,
        }
        if self.expression:
            issue["expression"] = list(self.expression)
        return {"resourceType": "OperationOutcome", "issue": [issue, *self.extra_issues]}


def status_for(category: Category) -> int:
    return _TABLE[category].status


def outcome(severity: str, code: str, diagnostics: str) -> dict[str, Any]:
    """A single-issue OperationOutcome (informational, warning or error)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }
