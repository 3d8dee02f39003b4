"""The policy decision point: a requester's decisions, cached per (requester,
policy epoch) until the next moment a period starts or ends."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, Table, select, update

from ..db.models import policy_epoch, resource, search_reference, search_token
from ..fhir.jsonio import parse_json
from ..fhir.search.fhirpath import parse_reference
from ..fhir.search.normalize import MAX_TIME, to_micros
from ..fhir.store import ResourceStore, keys_among
from ..fhir.visibility import StoredRow
from .decision import PatientRule, TypeRule, patient_rule
from .identities import Identities, identities_of
from .provisions import (
    ACCESS,
    ACTIONS,
    DataRef,
    Provision,
    boundaries,
    consent_patient,
    counts,
    flatten,
)
from .sql import NEVER_PUBLIC, visible_rows

_EPOCH = select(policy_epoch.c.value).where(policy_epoch.c.id == 1)
_BUMP = update(policy_epoch).where(policy_epoch.c.id == 1).values(value=policy_epoch.c.value + 1)
CACHE_SIZE = 4096


def current_epoch(conn: Connection) -> int:
    value = conn.execute(_EPOCH).scalar()
    return int(value or 0)


def bump_epoch(conn: Connection) -> None:
    conn.execute(_BUMP)


@dataclass(frozen=True)
class Requester:
    actor: str | None  # Patient/x, RelatedPerson/x, Practitioner/x, PractitionerRole/x
    patient_id: str | None  # whom the token acts for
    system: bool = False


@dataclass(frozen=True)
class ConsentVisibility:
    """The engine's ``Visibility`` for one requester and one action."""

    owned: frozenset[str]
    patients: Mapping[str, PatientRule]
    only_patient: str | None = None  # the token acts for this client only
    # The condition over the plain (not aliased) tables, built once: this object is
    # cached with the requester's decisions and serves each of their searches.
    _built: dict[str, ColumnElement[bool]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def condition(self, table: FromClause) -> ColumnElement[bool]:
        if isinstance(table, Table):
            built = self._built.get(table.name)
            if built is None:
                built = self._built[table.name] = self._condition(table)
            return built
        return self._condition(table)

    def _condition(self, table: FromClause) -> ColumnElement[bool]:
        condition = visible_rows(table, self.owned, self.patients)
        if self.only_patient is not None:
            c = table.c
            return (c.patient_id.is_(None) | (c.patient_id == self.only_patient)) & condition
        return condition

    def permits(self, conn: Connection, stored: StoredRow) -> bool:
        return self.permits_row(conn, stored.resource_type, stored.id, stored.patient_id)

    def permits_row(
        self, conn: Connection, resource_type: str, resource_id: str, patient_id: str | None
    ) -> bool:
        if patient_id is None:
            return resource_type not in NEVER_PUBLIC
        if self.only_patient is not None and patient_id != self.only_patient:
            return False
        if patient_id in self.owned:
            return True
        rule = self.patients.get(patient_id)
        if rule is None:
            return False
        type_rule = rule.for_type(resource_type)
        if not type_rule.exceptions:
            return type_rule.default
        return _permits_by_data(conn, type_rule, resource_type, resource_id)


def _permits_by_data(
    conn: Connection, rule: TypeRule, resource_type: str, resource_id: str
) -> bool:
    """First matching data exception decides; the index answers related/dependents,
    asked only when such a reference is met."""
    sr = search_reference.c
    refers_to: set[tuple[str, str]] | None = None
    referenced_by: dict[tuple[str, str], bool] = {}

    def matches(ref: DataRef) -> bool:
        nonlocal refers_to
        key = (ref.resource_type, ref.resource_id)
        if key == (resource_type, resource_id):
            return True
        if ref.meaning == "dependents":
            if refers_to is None:
                rows = conn.execute(
                    select(sr.target_type, sr.target_id).where(
                        sr.resource_type == resource_type, sr.resource_id == resource_id
                    )
                )
                refers_to = {(r.target_type, r.target_id) for r in rows}
            return key in refers_to
        if ref.meaning == "related":
            if key not in referenced_by:
                found = conn.execute(
                    select(sr.resource_id)
                    .where(
                        sr.resource_type == ref.resource_type,
                        sr.resource_id == ref.resource_id,
                        sr.target_type == resource_type,
                        sr.target_id == resource_id,
                    )
                    .limit(1)
                ).first()
                referenced_by[key] = found is not None
            return referenced_by[key]
        return False

    for exception in rule.exceptions:
        if all(any(matches(ref) for ref in level) for level in exception.match):
            return exception.permit
    return rule.default


@dataclass(frozen=True)
class Decisions:
    """What one requester may do, per action, until ``valid_until``."""

    identities: Identities
    by_action: Mapping[str, ConsentVisibility]
    valid_until: int

    def visibility(self, action: str = ACCESS) -> ConsentVisibility:
        return self.by_action[action]


@dataclass
class _Cache:
    entries: OrderedDict[tuple[Any, ...], tuple[int, Decisions]] = field(
        default_factory=OrderedDict
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[Any, ...], epoch: int, moment: int) -> Decisions | None:
        with self.lock:
            hit = self.entries.get(key)
            if hit is None or hit[0] != epoch or moment >= hit[1].valid_until:
                return None
            self.entries.move_to_end(key)
            return hit[1]

    def put(self, key: tuple[Any, ...], epoch: int, decisions: Decisions) -> None:
        with self.lock:
            self.entries[key] = (epoch, decisions)
            self.entries.move_to_end(key)
            while len(self.entries) > CACHE_SIZE:
                self.entries.popitem(last=False)


class PolicyDecisionPoint:
    def __init__(self) -> None:
        self._cache = _Cache()

    def decisions(self, conn: Connection, requester: Requester, now: datetime) -> Decisions:
        """Read the epoch first: data read after it is at least as new as it says."""
        assert requester.actor is not None
        epoch = current_epoch(conn)
        moment = to_micros(now)
        key = (requester.actor, requester.patient_id)
        cached = self._cache.get(key, epoch, moment)
        if cached is not None:
            return cached
        decisions = compute(ResourceStore(conn), requester, moment)
        self._cache.put(key, epoch, decisions)
        return decisions


def compute(store: ResourceStore, requester: Requester, moment: int) -> Decisions:
    assert requester.actor is not None
    identities = identities_of(store, requester.actor, moment)
    owned = set(identities.represented)
    if requester.actor == f"Patient/{requester.patient_id}":
        owned.add(requester.actor.removeprefix("Patient/"))
    if requester.patient_id is not None:
        owned &= {requester.patient_id}
    provisions = _provisions(store, identities.references) if identities.references else {}
    by_action = {}
    for action in ACTIONS:
        patients = {
            patient_id: patient_rule(
                [p for p in found if p.applies_to(identities.references, action, moment)]
            )
            for patient_id, found in provisions.items()
        }
        by_action[action] = ConsentVisibility(frozenset(owned), patients, requester.patient_id)
    every = [p for found in provisions.values() for p in found]
    later = [b for b in (*boundaries(every), *identities.boundaries) if b > moment]
    return Decisions(identities, by_action, min(later, default=MAX_TIME))


def _provisions(store: ResourceStore, references: Iterable[str]) -> dict[str, list[Provision]]:
    """Every provision of the active Consents of each client that has one naming the
    requester, or a permit for everyone."""
    sr = search_reference.c
    keys = [k for r in references if r.count("/") == 1 and (k := parse_reference(r))]
    named = select(sr.resource_id).where(
        sr.resource_type == "Consent",
        sr.param == "provision-actor",
        keys_among(sr.target_type, sr.target_id, keys),
    )
    tok = search_token.c
    open_to_all = select(tok.resource_id).where(
        tok.resource_type == "Consent", tok.param == "open-permit", tok.code == "true"
    )
    res = resource.c
    patients = (
        select(res.patient_id)
        .where(
            res.resource_type == "Consent",
            res.deleted.is_(False),
            res.id.in_(named.union(open_to_all)),
        )
        .distinct()
    )
    rows = store.conn.execute(
        select(res.content).where(
            res.resource_type == "Consent",
            res.deleted.is_(False),
            res.patient_id.in_(patients),
        )
    ).all()
    found: dict[str, list[Provision]] = {}
    for row in rows:
        consent = parse_json(row.content)
        patient_id = consent_patient(consent)
        if patient_id is not None and counts(consent):
            found.setdefault(patient_id, []).extend(flatten(consent))
    return found
