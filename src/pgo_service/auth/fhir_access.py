"""What a token may do on /fhir: scopes per interaction, and the patient's compartment.

Scopes are checked before the engine runs, for the request and for every entry of
a batch or transaction Bundle. A token that acts for a patient (every token from
the login flow, and operator tokens minted with a patient) is further held to
that patient's compartment (R4 CompartmentDefinition ``patient``):

- reads and instance history of a resource in the compartment of someone else
  are refused (403);
- searches of a compartment type are narrowed to the patient by adding the
  compartment's parameter (``_id`` for Patient); ``_include``/``_revinclude``
  and system or type history, which cannot be narrowed that way, are refused;
- every write is checked by a write rule inside the transaction, on the stored
  version and on the new content (after a patch), so nothing can be moved into or
  out of the patient's compartment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import Connection, select

from ..db.models import resource
from ..fhir.compartment import compartment_params, patient_compartment
from ..fhir.errors import Category, FhirError
from ..fhir.exchange import FhirRequest
from ..fhir.interactions.context import Change, Context
from ..fhir.jsonio import parse_json
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
        """Refuse what the token may not do; return the request, searches narrowed."""
        if request.method == "POST" and not request.path.strip("/"):
            return self._bundle(conn, request)
        return self._single(conn, request)

    def rule(self, ctx: Context, change: Change) -> None:
        """A write rule: both the stored and the new version stay in the patient's compartment."""
        patient_id = self.principal.patient_id
        if patient_id is None:
            return
        if change.current is not None and change.current.content is not None:
            self._in_compartment(change.resource_type, parse_json(change.current.content))
        if change.body is not None:
            body = {**change.body, "id": change.resource_id}
            self._in_compartment(change.resource_type, body)

    def _in_compartment(self, resource_type: str, document: dict[str, Any]) -> None:
        if not compartment_params(resource_type) and resource_type != "Patient":
            return
        if patient_compartment(resource_type, document) != self.principal.patient_id:
            raise forbidden("The resource is outside the compartment of the patient acted for")

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
        if self.principal.patient_id is None:
            return request
        if target.history and target.resource_id is None:
            raise forbidden("Type history is not available to a patient-context token")
        if target.search:
            return self._narrow(request, target.resource_type)
        if target.resource_id is not None and target.interaction in ("r", "s"):
            self._check_stored(conn, target.resource_type, target.resource_id)
        return request

    def _check_stored(self, conn: Connection, resource_type: str, resource_id: str) -> None:
        if resource_type == "Patient":
            if resource_id != self.principal.patient_id:
                raise forbidden("Another patient's record")
            return
        if not compartment_params(resource_type):
            return
        row = conn.execute(
            select(resource.c.patient_id).where(
                resource.c.resource_type == resource_type, resource.c.id == resource_id
            )
        ).first()
        if row is not None and row.patient_id != self.principal.patient_id:
            raise forbidden("The resource is outside the compartment of the patient acted for")

    def _narrow(self, request: FhirRequest, resource_type: str) -> FhirRequest:
        if any(name.split(":")[0] in _UNNARROWABLE for name, _ in request.query):
            raise forbidden("_include and _revinclude are not available to a patient-context token")
        patient_id = self.principal.patient_id
        if resource_type == "Patient":
            return replace(request, query=[*request.query, ("_id", str(patient_id))])
        params = compartment_params(resource_type)
        if not params:
            return request
        param = next((p for p in ("patient", "subject") if p in params), params[0])
        return replace(request, query=[*request.query, (param, f"Patient/{patient_id}")])

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
