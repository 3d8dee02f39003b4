"""What a token's scopes allow on /fhir, checked before the engine runs, for the
request and for every entry of a batch or transaction Bundle.

Whose data a token may see or change is not decided here but by the client's consent
(``pgo_service.consent``): a patient's own token is its owner, everyone else gets
what the client's Consents allow, filtered inside every statement the engine runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import Connection

from ..fhir.errors import Category, FhirError
from ..fhir.exchange import FhirRequest
from .principal import Principal

_TYPE_LEVEL = {"GET": "s", "HEAD": "s", "POST": "c", "PUT": "u", "PATCH": "u", "DELETE": "d"}
_INSTANCE_LEVEL = {"GET": "r", "HEAD": "r", "PUT": "u", "PATCH": "u", "DELETE": "d"}
_UNNARROWABLE = ("_include", "_revinclude")


def forbidden(message: str) -> FhirError:
    return FhirError(
        Category.FORBIDDEN,
        message,
        headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
    )


@dataclass(frozen=True)
class _Target:
    interaction: str  # c r u d s
    resource_type: str | None  # None: system level
    resource_id: str | None = None
    search: bool = False
    history: bool = False


def _target(request: FhirRequest) -> _Target:
    parts = [p for p in request.path.split("/") if p]
    method = request.method
    if parts and parts[-1].startswith("$"):
        letter = "r" if method == "GET" else "u"
        rtype = parts[0] if len(parts) > 1 else None
        return _Target(letter, rtype, parts[1] if len(parts) == 3 else None)
    if not parts or parts == ["_history"]:
        return _Target("s", None, history=True)
    rtype = parts[0]
    if len(parts) == 1:
        return _Target(_TYPE_LEVEL.get(method, "s"), rtype, search=method in ("GET", "HEAD"))
    if parts[1] == "_search":
        return _Target("s", rtype, search=True)
    if parts[1] == "_history":
        return _Target("s", rtype, history=True)
    return _Target(_INSTANCE_LEVEL.get(method, "r"), rtype, parts[1])


class FhirAccess:
    """The checks for one principal; built per request."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def authorize(self, conn: Connection, request: FhirRequest) -> FhirRequest:
        """Refuse what the token's scopes do not allow."""
        if request.method == "POST" and not request.path.strip("/"):
            return self._bundle(conn, request)
        return self._single(conn, request)

    def _single(self, conn: Connection, request: FhirRequest) -> FhirRequest:
        target = _target(request)
        scopes = self.principal.scopes
        if target.resource_type is None:
            if self.principal.patient_id is not None or not scopes.allows("*", target.interaction):
                raise forbidden("This system-level interaction needs a */ scope without patient")
            return request
        if not scopes.allows(target.resource_type, target.interaction):
            raise forbidden(
                f"The token's scope does not allow {target.interaction!r} on {target.resource_type}"
            )
        return request

    def _bundle(self, conn: Connection, request: FhirRequest) -> FhirRequest:
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
            return request
        entries = []
        for entry in body["entry"]:
            target = _entry_request(request, entry)
            if target is None:
                entries.append(entry)  # malformed: the engine answers it
                continue
            checked = self._single(conn, target)
            if checked.query != target.query:
                url = checked.path + "?" + urlencode(checked.query)
                entry = {**entry, "request": {**entry["request"], "url": url}}
            entries.append(entry)
        return replace(request, body={**body, "entry": entries})


def _entry_request(request: FhirRequest, entry: Any) -> FhirRequest | None:
    """A Bundle entry's request as the engine will see it (R4 http.html#transaction)."""
    req = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(req, dict) or not isinstance(req.get("url"), str):
        return None
    url = req["url"].removeprefix(request.base_url + "/")
    split = urlsplit(url)
    return FhirRequest(
        method=str(req.get("method", "")).upper(),
        path=split.path.strip("/"),
        query=parse_qsl(split.query, keep_blank_values=True),
        base_url=request.base_url,
    )
