"""Every access decision, permit and deny, as an AuditEvent.

One event per client whose data a request touched (so each client's trail holds only
their own records), or one without a client. Events are written in batches off the
request's path: by a child process of the server (``audit_process``, the default) or by
the ``AuditWriter`` thread here; ``flush`` returns once what was recorded is stored (at
shutdown, and before the audit trail itself is read). Events name the actor, the app
and resources by reference: never a query string, token or BSN.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from ..auth.audit import agents
from ..db.checkpoint import Checkpointer
from ..db.engine import transaction
from ..db.errors import log_failure
from ..fhir.compartment import relative_patient_id
from ..fhir.search.extract import entries_of
from ..fhir.search.fhirpath import parse_reference
from ..fhir.search.index import IndexEntry, ReferenceEntry
from ..fhir.store import NewRows, ResourceStore, format_instant, ordered_id

log = logging.getLogger(__name__)

MAX_ENTITIES = 50
_BATCH = 100  # bounded batches: the writer shares the GIL with the requests
_IDLE_SECONDS = 2.0
_GATHER_SECONDS = 0.02
_ACTION = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}


@dataclass(frozen=True)
class AccessRecord:
    method: str
    path: str  # without the query string
    permitted: bool
    actor: str | None
    client_id: str | None
    shown: tuple[tuple[str, str | None], ...]  # (reference, client id)
    target_patient: str | None = None  # for a denial: whose data was asked for
    detail: str | None = None
    correlation_id: str | None = None
    purpose: str = "TREAT"


def events(record: AccessRecord, now: datetime) -> list[dict[str, Any]]:
    by_patient: dict[str | None, list[str]] = {}
    for reference, patient_id in record.shown:
        by_patient.setdefault(patient_id, []).append(reference)
    if record.target_patient is not None:
        by_patient.setdefault(record.target_patient, [])
    if not by_patient:
        by_patient[None] = []
    return [_event(record, patient_id, refs, now) for patient_id, refs in by_patient.items()]


def _event(
    record: AccessRecord, patient_id: str | None, references: list[str], now: datetime
) -> dict[str, Any]:
    entities: list[dict[str, Any]] = []
    if patient_id is not None:
        entities.append(
            {
                "what": {"reference": f"Patient/{patient_id}"},
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "1",
                    "display": "Patient",
                },
            }
        )
    for reference in dict.fromkeys(references):
        if len(entities) >= MAX_ENTITIES:
            break
        if reference != f"Patient/{patient_id}":
            entities.append({"what": {"reference": reference}})
    if record.correlation_id:
        entities.append(
            {"detail": [{"type": "X-Correlation-ID", "valueString": record.correlation_id}]}
        )
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "action": _ACTION.get(record.method, "E"),
        "recorded": format_instant(now),
        "outcome": "0" if record.permitted else "4",
        "purposeOfEvent": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "code": record.purpose,
                    }
                ]
            }
        ],
        "agent": agents(record.actor, record.client_id),
        "source": {"observer": {"display": "pgo-service"}},
        "entity": entities,
    }
    description = f"{record.method} {record.path}"
    event["outcomeDesc"] = f"{description}: {record.detail}" if record.detail else description
    return event


def index_entries(event: dict[str, Any]) -> list[IndexEntry]:
    """The search-index entries of an event built by ``events``, from the places its
    values sit (the R4 AuditEvent parameters' expressions over that shape), without
    evaluating every parameter's expression; the tests hold this equal to ``extract``
    less the parameters searched on the resource table (``_id``, ``_lastUpdated``).
    Most values recur from event to event (the codes, the actor, a client's
    resources), and their entries are looked up rather than made again."""
    found = _entries("token", "code", "action", event.get("action"))
    whos = [agent["who"] for agent in event.get("agent") or () if "who" in agent]
    whats = [entity["what"] for entity in event.get("entity") or () if "what" in entity]
    for who in whos:
        found += _reference_entries("agent", who)
    found += entries_of("date", "instant", "date", event.get("recorded"))
    for what in whats:
        found += _reference_entries("entity", what)
    for entity in event.get("entity") or ():
        found += _entries("token", "Coding", "entity-role", entity.get("role"))
    found += _entries("token", "code", "outcome", event.get("outcome"))
    for reference in (*whos, *whats):
        if str(reference.get("reference", "")).startswith("Patient/"):
            found += _reference_entries("patient", reference)
    found += _entries("token", "Coding", "type", event.get("type"))
    return list(dict.fromkeys(found))


def compartment(event: dict[str, Any]) -> str | None:
    """The patient compartment of an event built by ``events``, as
    ``patient_compartment`` finds it through the 'patient' parameter (the first Patient
    an agent or an entity names) without evaluating that parameter's expression."""
    agents_ = (agent.get("who") for agent in event.get("agent") or ())
    entities = (entity.get("what") for entity in event.get("entity") or ())
    for reference in (*agents_, *entities):
        patient_id = relative_patient_id(reference)
        if patient_id is not None:
            return patient_id
    return None


def _reference_entries(code: str, value: dict[str, Any]) -> list[IndexEntry]:
    """A plain relative reference (``Type/id``: what ``events`` names a resource by)
    makes its entry directly; each resource's own would only crowd the remembered ones
    out. Anything else goes the general way."""
    literal = value.get("reference")
    if len(value) == 1 and isinstance(literal, str) and literal.count("/") == 1:
        target = parse_reference(literal)
        if target is not None:
            return [ReferenceEntry(code, target[0], target[1], None, None, None)]
    return _entries("reference", "Reference", code, value)


_SEEN_ENTRIES: dict[tuple[str, str, str, object], tuple[IndexEntry, ...]] = {}
_SEEN_LIMIT = 4096


def _entries(param_type: str, fhir_type: str, code: str, value: Any) -> list[IndexEntry]:
    """``entries_of``, remembered for values made of strings (an agent's identifier is
    an object in an object)."""
    if value is None:
        return []
    frozen = _frozen(value)
    if frozen is None:
        return entries_of(param_type, fhir_type, code, value)
    key = (param_type, fhir_type, code, frozen)
    found = _SEEN_ENTRIES.get(key)
    if found is None:
        if len(_SEEN_ENTRIES) >= _SEEN_LIMIT:
            _SEEN_ENTRIES.clear()
        found = _SEEN_ENTRIES[key] = tuple(entries_of(param_type, fhir_type, code, value))
    return list(found)


def _frozen(value: Any, depth: int = 0) -> object | None:
    """A hashable copy of a string or an object of strings and such objects, else None."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or depth > 1:
        return None
    items = []
    for name, member in value.items():
        frozen = _frozen(member, depth + 1)
        if frozen is None:
            return None
        items.append((name, frozen))
    return tuple(items)


class AuditSink(Protocol):
    def start(self) -> None:
        """Get ready before the first request (a no-op where nothing needs starting)."""

    def record(self, record: AccessRecord, now: datetime) -> None: ...

    def flush(self) -> None:
        """Return once everything recorded so far is stored."""

    def close(self) -> None:
        """Flush, then stop."""


class AuditWriter:
    """Collects events and writes them in batches on a background thread.

    A request only appends to a deque (no lock, no wake-up per event); the thread,
    woken by the first event of a quiet spell, lets a batch gather for a moment and
    writes what is pending. It ends after an idle spell and the next event starts it
    again."""

    def __init__(self, engine: Engine, idle_seconds: float = _IDLE_SECONDS) -> None:
        self.engine = engine
        self.idle_seconds = idle_seconds
        self._checkpointer = Checkpointer(engine)
        self._pending: deque[dict[str, Any]] = deque()
        self._wake = threading.Event()
        self._writing = threading.Lock()  # one batch at a time
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._checkpointer.start()  # the writing thread starts with the first event

    def record(self, record: AccessRecord, now: datetime) -> None:
        self._pending.extend(events(record, now))
        if not self._wake.is_set():
            self._wake.set()
        if self._thread is None:
            self._start()

    def flush(self) -> None:
        with self._writing:
            while batch := self._drain():
                self._write(batch)

    def _start(self) -> None:
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            if not self._wake.wait(self.idle_seconds) and self._stopped():
                return
            self._wake.clear()
            time.sleep(_GATHER_SECONDS)
            self.flush()

    def _stopped(self) -> bool:
        # Gone first, then a last look: an event appended after the look finds no
        # thread and starts one; one appended before it keeps this thread going.
        with self._starting:
            self._thread = None
            if self._pending:
                self._thread = threading.current_thread()
                return False
            return True

    def _drain(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        while len(batch) < _BATCH:
            try:
                batch.append(self._pending.popleft())
            except IndexError:
                break
        return batch

    def _write(self, batch: Iterable[dict[str, Any]]) -> None:
        write_events(self.engine, batch)

    def close(self) -> None:
        self.flush()
        self._checkpointer.stop()


def write_events(engine: Engine, batch: Iterable[dict[str, Any]]) -> None:
    """Store events in one transaction; a failure is logged, never raised (the audit
    must not take the service down, so it says so loudly instead)."""
    batch = list(batch)
    if not batch:
        return
    try:
        bodies = ((ordered_id(), e) for e in batch)
        rows = NewRows.of("AuditEvent", bodies, index_entries, compartment=compartment)
        with transaction(engine) as conn:
            ResourceStore(conn).insert_new(rows)
    except Exception as exc:
        log_failure(log, "writing %d audit events failed", len(batch), exc=exc)
