"""What a token's scopes allow on /fhir, checked before the engine runs, for the
request and for every entry of a batch or transaction Bundle.

Whose data a token may see or change is not decided here but by the client's consent
(``pgo_service.consent``): a patient's own token is its owner, everyone else gets
what the client's Consents allow, filtered inside every statement the engine runs.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from ..fhir.errors import Category, FhirError
from ..fhir.exchange import FhirRequest
from .principal import Principal

_TYPE_LEVEL = {"GET": "s", "HEAD": "s", "POST": "c", "PUT": "u", "PATCH": "u", "DELETE": "d"}
_INSTANCE_LEVEL = {"GET": "r", "HEAD": "r", "PUT": "u", "PATCH": "u", "DELETE": "d"}


def forbidden(message: str) -> FhirError:
    return FhirError(
        Category.FORBIDDEN,
        message,
        headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
    )


def _target(request: FhirRequest) -> tuple[str, str | None]:
    """The SMART interaction letter (c r u d s) and the resource type (None: system)."""
    parts = [p for p in request.path.split("/") if p]
    method = request.method
    if parts and parts[-1].startswith("$"):
        return ("r" if method == "GET" else "u"), (parts[0] if len(parts) > 1 else None)
    if not parts or parts == ["_history"]:
        return "s", None
    if len(parts) == 1:
        return _TYPE_LEVEL.get(method, "s"), parts[0]
    if parts[1] in ("_search", "_history"):
        return "s", parts[0]
    return _INSTANCE_LEVEL.get(method, "r"), parts[0]


class FhirAccess:
    """The scope checks for one principal; built per request."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def check(self, request: FhirRequest) -> None:
        """Refuse what the token's scopes do not allow, for a Bundle entry by entry."""
        if request.method == "POST" and not request.path.strip("/"):
            for entry in _entries(request):
                self._check_one(entry)
            return
        self._check_one(request)

    def _check_one(self, request: FhirRequest) -> None:
        interaction, resource_type = _target(request)
        scopes = self.principal.scopes
        if resource_type is None:
            if self.principal.patient_id is not None or not scopes.allows("*", interaction):
                raise forbidden("This system-level interaction needs a */ scope without patient")
            return
        if not scopes.allows(resource_type, interaction):
            raise forbidden(f"The token's scope does not allow {interaction!r} on {resource_type}")


def _entries(request: FhirRequest) -> list[FhirRequest]:
    """The entries' requests as the engine will see them (R4 http.html#transaction);
    malformed ones are left for the engine to answer."""
    body = request.body
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        return []
    found = []
    for entry in body["entry"]:
        req = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(req, dict) or not isinstance(req.get("url"), str):
            continue
        split = urlsplit(req["url"].removeprefix(request.base_url + "/"))
        found.append(
            FhirRequest(
                method=str(req.get("method", "")).upper(),
                path=split.path.strip("/"),
                query=parse_qsl(split.query, keep_blank_values=True),
                base_url=request.base_url,
            )
        )
    return found
