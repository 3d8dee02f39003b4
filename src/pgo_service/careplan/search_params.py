"""Search parameters the model adds, so plain FHIR search answers the everyday questions.

- ``CarePlan?next-evaluation=lt<today>``: plans overdue for evaluation.
- ``CareTeam?regiebehandelaar=Practitioner/x`` and, chained,
  ``CarePlan?care-team.regiebehandelaar=Practitioner/x``: whose regiebehandelaar x is.
  Indexed at write time from the participations with that role that had not ended
  then; a handover (which ends the previous one) re-indexes the team.
- ``CareTeam?network-member=RelatedPerson/y`` (with ``network-role``): current members.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..fhir.search.custom import CustomParam, register
from ..fhir.search.fhirpath import parse_reference
from ..fhir.search.index import DateEntry, IndexEntry, ReferenceEntry, TokenEntry
from ..fhir.search.normalize import date_range
from ..fhir.search.params import SearchParam
from ..fhir.store import utc_now
from . import codes
from .classify import extension_value, has_role
from .periods import has_ended

_PROFESSIONALS = ("Practitioner", "PractitionerRole")


def _definition(
    code: str, kind: str, description: str, targets: tuple[str, ...] = ()
) -> SearchParam:
    return SearchParam(
        code=code,
        type=kind,
        expression="",
        targets=targets,
        url=f"{codes.BASE}/SearchParameter/{code}",
        description=description,
    )


def _evaluation(url: str, code: str) -> Any:
    def extract(resource: dict[str, Any]) -> Iterator[IndexEntry]:
        value = extension_value(resource, url)
        if isinstance(value, str):
            try:
                low, high = date_range(value)
            except ValueError:
                return
            yield DateEntry(code, low, high)

    return extract


def _reference_entry(code: str, reference: str) -> ReferenceEntry:
    parsed = parse_reference(reference)
    target_type, target_id = parsed if parsed else (None, None)
    return ReferenceEntry(code, target_type, target_id, None, None, None)


def _open_participants(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    now = utc_now()
    for participant in resource.get("participant") or []:
        if isinstance(participant, dict) and not has_ended(participant.get("period"), now):
            yield participant


def _regiebehandelaar(resource: dict[str, Any]) -> Iterator[IndexEntry]:
    for participant in _open_participants(resource):
        if has_role(participant, codes.ROLE_SYSTEM, codes.REGIEBEHANDELAAR):
            member = (participant.get("member") or {}).get("reference")
            if isinstance(member, str):
                yield _reference_entry("regiebehandelaar", member)


def _network_member(resource: dict[str, Any]) -> Iterator[IndexEntry]:
    for participant in _open_participants(resource):
        member = (participant.get("member") or {}).get("reference")
        if isinstance(member, str):
            yield _reference_entry("network-member", member)


def _network_role(resource: dict[str, Any]) -> Iterator[IndexEntry]:
    for participant in _open_participants(resource):
        for system, code in codes.codings(participant.get("role")):
            yield TokenEntry("network-role", system, code, None)


_PARAMS = (
    CustomParam(
        "CarePlan",
        _definition("next-evaluation", "date", "Date the plan is next due for evaluation"),
        _evaluation(codes.NEXT_EVALUATION_URL, "next-evaluation"),
    ),
    CustomParam(
        "CarePlan",
        _definition("last-evaluation", "date", "Date the plan was last evaluated"),
        _evaluation(codes.LAST_EVALUATION_URL, "last-evaluation"),
    ),
    CustomParam(
        "CareTeam",
        _definition(
            "regiebehandelaar",
            "reference",
            "The current (not ended) regiebehandelaar of the personal network",
            _PROFESSIONALS,
        ),
        _regiebehandelaar,
    ),
    CustomParam(
        "CareTeam",
        _definition(
            "network-member",
            "reference",
            "Members whose participation has not ended",
            ("Practitioner", "PractitionerRole", "RelatedPerson", "Organization", "Patient"),
        ),
        _network_member,
    ),
    CustomParam(
        "CareTeam",
        _definition("network-role", "token", "Roles of participations that have not ended"),
        _network_role,
    ),
)


def register_search_params() -> None:
    for param in _PARAMS:
        register(param)
