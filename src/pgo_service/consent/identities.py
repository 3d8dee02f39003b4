"""Who a requester is, for consent: every reference it answers to (docs/consent.md),
and the clients it represents. Read from the store on the request's connection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..careplan import codes
from ..careplan.classify import has_role, reference_of
from ..careplan.periods import bounds
from ..db.models import search_reference
from ..fhir.jsonio import parse_json
from ..fhir.search.fhirpath import parse_reference
from ..fhir.search.normalize import MAX_TIME, MIN_TIME
from ..fhir.search.sql import param_is
from ..fhir.store import ResourceStore, keys_among


@dataclass(frozen=True)
class Identities:
    references: frozenset[str]
    represented: frozenset[str]  # patient ids this requester is a current representative of
    boundaries: tuple[int, ...]  # moments at which any of this may change by time alone


def _bounds(period: Any) -> tuple[int, int]:
    try:
        return bounds(period)
    except ValueError:
        return MAX_TIME, MIN_TIME  # unreadable: never current


def _referrers(
    store: ResourceStore, source_type: str, param: str, targets: Iterable[str]
) -> list[dict[str, Any]]:
    keys = [k for t in targets if t.count("/") == 1 and (k := parse_reference(t))]
    if not keys:
        return []
    sr = search_reference.c
    rows = store.conn.execute(
        select(sr.resource_id)
        .where(
            sr.resource_type == source_type,
            param_is(search_reference, source_type, param),
            keys_among(sr.target_type, sr.target_id, keys),
        )
        .distinct()
    ).all()
    found = store.read_many((source_type, r.resource_id) for r in rows)
    return [parse_json(v.content) for v in found.values() if v.content]


def identities_of(store: ResourceStore, actor: str, moment: int) -> Identities:
    boundaries: list[int] = []

    def current(period: Any) -> bool:
        low, high = _bounds(period)
        boundaries.extend((low, high + 1))
        return low <= moment <= high

    references = {actor}
    kind = actor.split("/", 1)[0]
    roles: list[dict[str, Any]] = []
    if kind == "Practitioner":
        roles = _referrers(store, "PractitionerRole", "practitioner", [actor])
    elif kind == "PractitionerRole":
        stored = store.read("PractitionerRole", actor.removeprefix("PractitionerRole/"))
        roles = [parse_json(stored.content)] if stored and stored.content else []
    active_roles = [
        role for role in roles if role.get("active") is not False and current(role.get("period"))
    ]
    if kind == "PractitionerRole" and not active_roles:
        # a token acting as a role that is not (or no longer) active answers to nobody
        return Identities(frozenset(), frozenset(), tuple(sorted(set(boundaries))))
    for role in active_roles:
        references.add(f"PractitionerRole/{role.get('id')}")
        references.update(
            r
            for r in (
                reference_of(role.get("practitioner")),
                reference_of(role.get("organization")),
            )
            if r
        )
    represented: set[str] = set()
    for team in _referrers(store, "CareTeam", "participant", references):
        if team.get("status") != "active" or not current(team.get("period")):
            continue
        for participant in _participants(team):
            member = reference_of(participant.get("member"))
            if member not in references or not current(participant.get("period")):
                continue
            references.add(f"CareTeam/{team.get('id')}")
            subject = reference_of(team.get("subject")) or ""
            if (
                kind == "RelatedPerson"
                and subject.startswith("Patient/")
                and _represents(participant)
            ):
                represented.add(subject.removeprefix("Patient/"))
    return Identities(frozenset(references), frozenset(represented), tuple(sorted(set(boundaries))))


def _participants(team: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for participant in team.get("participant") or []:
        if isinstance(participant, dict):
            yield participant


def _represents(participant: dict[str, Any]) -> bool:
    return bool(set(codes.codings(participant.get("role"))) & codes.REPRESENTATIVE_ROLES)


def is_regiebehandelaar(
    store: ResourceStore, references: frozenset[str], patient_id: str, moment: int
) -> bool:
    """A current regiebehandelaar in an active network of the client."""
    for team in _referrers(store, "CareTeam", "participant", references):
        low, high = _bounds(team.get("period"))
        if (
            team.get("status") != "active"
            or not low <= moment <= high
            or reference_of(team.get("subject")) != f"Patient/{patient_id}"
        ):
            continue
        for participant in _participants(team):
            member = reference_of(participant.get("member"))
            low, high = _bounds(participant.get("period"))
            if (
                member in references
                and low <= moment <= high
                and has_role(participant, codes.ROLE_SYSTEM, codes.REGIEBEHANDELAAR)
            ):
                return True
    return False
