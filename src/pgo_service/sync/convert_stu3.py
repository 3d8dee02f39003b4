"""FHIR STU3 (zib2017, MedMij's BgLZ data service 61) to R4, for what pull reads:
CarePlan, Goal, CareTeam and Task.

Each resource is first validated against the STU3 models that fhir.resources ships;
then the elements that changed between the versions are moved to their R4 place.
Everything else (identifiers, text, extensions such as the zib2017 ones, period,
performers, progress notes) is the same in both versions and is kept as it is.

What moves, per type:

- CarePlan: ``definition`` → ``instantiatesCanonical``; ``context`` → ``encounter``
  (an EpisodeOfCare goes to ``supportingInfo``); ``author[0]`` → ``author``, the other
  authors → ``contributor``; status ``suspended`` → ``on-hold``, ``cancelled`` →
  ``revoked``; per activity ``detail.definition`` → ``detail.instantiatesCanonical``,
  ``detail.prohibited`` → ``detail.doNotPerform``, ``detail.statusReason`` (a string)
  → a CodeableConcept with that text, ``detail.category`` (no R4 element) →
  ``detail.code`` when there is no code, else an extension.
- Goal: ``status`` → ``lifecycleStatus`` + ``achievementStatus``; ``target`` (one) →
  ``target`` (a list).
- CareTeam: ``context`` → ``encounter``; ``participant.role`` (one) → a list.
- Task: ``definitionUri``/``definitionReference`` → ``instantiatesUri``/
  ``instantiatesCanonical``; ``context`` → ``encounter``; ``requester.agent`` →
  ``requester`` (``requester.onBehalfOf`` is kept as an extension); ``reason`` →
  ``reasonCode``.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import ValidationError

TYPES = ("CarePlan", "Goal", "CareTeam", "Task")

# R4 has no element for STU3's activity.detail.category, nor Task.requester.onBehalfOf.
DETAIL_CATEGORY_URL = (
    "http://hl7.org/fhir/3.0/StructureDefinition/extension-CarePlan.activity.detail.category"
)
ON_BEHALF_OF_URL = "http://hl7.org/fhir/3.0/StructureDefinition/extension-Task.requester.onBehalfOf"
ACHIEVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/goal-achievement"

_CAREPLAN_STATUS = {"suspended": "on-hold", "cancelled": "revoked"}

# STU3 Goal.status → (R4 lifecycleStatus, R4 achievementStatus or None)
_GOAL_STATUS: dict[str, tuple[str, str | None]] = {
    "proposed": ("proposed", None),
    "accepted": ("accepted", None),
    "planned": ("planned", None),
    "in-progress": ("active", "in-progress"),
    "on-target": ("active", "improving"),
    "ahead-of-target": ("active", "improving"),
    "behind-target": ("active", "worsening"),
    "sustaining": ("active", "sustaining"),
    "achieved": ("completed", "achieved"),
    "on-hold": ("on-hold", None),
    "cancelled": ("cancelled", None),
    "entered-in-error": ("entered-in-error", None),
    "rejected": ("rejected", None),
}
_ACHIEVEMENT_DISPLAY = {
    "in-progress": "In Progress",
    "improving": "Improving",
    "worsening": "Worsening",
    "sustaining": "Sustaining",
    "achieved": "Achieved",
}


class Stu3Error(ValueError):
    """The resource is not valid STU3, or has no R4 form."""


def _model(resource_type: str) -> Any:
    from importlib import import_module

    module = import_module(f"fhir.resources.STU3.{resource_type.lower()}")
    return getattr(module, resource_type)


def validate_stu3(resource: Any) -> dict[str, Any]:
    if not isinstance(resource, dict):
        raise Stu3Error("an entry's resource is not a JSON object")
    kind = resource.get("resourceType")
    if kind not in TYPES:
        raise Stu3Error(f"STU3 {kind!r} is not read by pull")
    try:
        _model(kind).model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Stu3Error(f"not valid STU3 {kind}: {where}: {first['msg']}") from None
    return resource


def to_r4(resource: dict[str, Any]) -> dict[str, Any]:
    """The R4 form of a valid STU3 CarePlan, Goal, CareTeam or Task."""
    validate_stu3(resource)
    body = copy.deepcopy(resource)
    body.pop("meta", None)  # STU3 profiles (zib2017) do not describe the R4 form
    kind = body["resourceType"]
    if kind == "CarePlan":
        return _careplan(body)
    if kind == "Goal":
        return _goal(body)
    if kind == "CareTeam":
        return _careteam(body)
    return _task(body)


def _canonical(reference: Any) -> str | None:
    if isinstance(reference, dict):
        value = reference.get("reference")
        if isinstance(value, str) and value:
            return value
    return None


def _context(body: dict[str, Any]) -> None:
    context = body.pop("context", None)
    target = _canonical(context) or ""
    if target.startswith("EpisodeOfCare/") or "/EpisodeOfCare/" in target:
        body.setdefault("supportingInfo", []).append(context)
    elif context is not None:
        body["encounter"] = context


def _careplan(body: dict[str, Any]) -> dict[str, Any]:
    definitions = [_canonical(d) for d in body.pop("definition", None) or []]
    if any(definitions):
        body["instantiatesCanonical"] = [d for d in definitions if d]
    _context(body)
    authors = body.pop("author", None) or []
    if authors:
        body["author"] = authors[0]
        if len(authors) > 1:
            body["contributor"] = [*(body.get("contributor") or []), *authors[1:]]
    status = str(body.get("status"))
    body["status"] = _CAREPLAN_STATUS.get(status, status)
    for activity in body.get("activity") or []:
        detail = activity.get("detail")
        if isinstance(detail, dict):
            _detail(detail)
    return body


def _detail(detail: dict[str, Any]) -> None:
    definition = _canonical(detail.pop("definition", None))
    if definition:
        detail["instantiatesCanonical"] = [definition]
    if "prohibited" in detail:
        detail["doNotPerform"] = detail.pop("prohibited")
    reason = detail.pop("statusReason", None)
    if isinstance(reason, str) and reason:
        detail["statusReason"] = {"text": reason}
    category = detail.pop("category", None)
    if category:
        if "code" not in detail:
            detail["code"] = category
        else:
            detail.setdefault("extension", []).append(
                {"url": DETAIL_CATEGORY_URL, "valueCodeableConcept": category}
            )


def _goal(body: dict[str, Any]) -> dict[str, Any]:
    status = body.pop("status")
    lifecycle, achievement = _GOAL_STATUS[status]
    body["lifecycleStatus"] = lifecycle
    if achievement is not None and "achievementStatus" not in body:
        body["achievementStatus"] = {
            "coding": [
                {
                    "system": ACHIEVEMENT_SYSTEM,
                    "code": achievement,
                    "display": _ACHIEVEMENT_DISPLAY[achievement],
                }
            ]
        }
    target = body.pop("target", None)
    if isinstance(target, dict):
        body["target"] = [target]
    return body


def _careteam(body: dict[str, Any]) -> dict[str, Any]:
    _context(body)
    if "supportingInfo" in body:  # CareTeam has no supportingInfo: keep it as a note
        for info in body.pop("supportingInfo"):
            label = info.get("display") or info.get("reference") or "EpisodeOfCare"
            body.setdefault("note", []).append({"text": f"Zorgtraject: {label}"})
    for participant in body.get("participant") or []:
        role = participant.get("role")
        if isinstance(role, dict):
            participant["role"] = [role]
    return body


def _task(body: dict[str, Any]) -> dict[str, Any]:
    if "definitionUri" in body:
        body["instantiatesUri"] = body.pop("definitionUri")
    definition = _canonical(body.pop("definitionReference", None))
    if definition:
        body["instantiatesCanonical"] = definition
    context = body.pop("context", None)
    if context is not None:
        target = _canonical(context) or ""
        if target.startswith("Encounter/") or "/Encounter/" in target:
            body["encounter"] = context
        else:
            body.setdefault("note", []).append(
                {"text": f"Zorgtraject: {context.get('display') or target}"}
            )
    requester = body.pop("requester", None)
    if isinstance(requester, dict):
        if isinstance(requester.get("agent"), dict):
            body["requester"] = requester["agent"]
        if isinstance(requester.get("onBehalfOf"), dict):
            body.setdefault("extension", []).append(
                {"url": ON_BEHALF_OF_URL, "valueReference": requester["onBehalfOf"]}
            )
    if "reason" in body:
        body["reasonCode"] = body.pop("reason")
    return body
