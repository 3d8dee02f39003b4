"""A Consent's provision tree, flattened into provisions with their inherited
restrictions, and the rules of docs/consent.md that do not need the database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..careplan.periods import bounds

ACCESS, CORRECT, DISCLOSE = "access", "correct", "disclose"
ACTIONS = (ACCESS, CORRECT, DISCLOSE)
MEANINGS = ("instance", "related", "dependents")
SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
ACTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentaction"


@dataclass(frozen=True)
class DataRef:
    resource_type: str
    resource_id: str
    meaning: str


@dataclass(frozen=True)
class Provision:
    """One provision; each tuple holds one entry per level (itself and its ancestors)
    that restricts that element, and all of them must hold."""

    permit: bool
    depth: int
    actors: tuple[frozenset[str], ...]
    actions: tuple[frozenset[str], ...]
    classes: tuple[frozenset[str], ...]
    data: tuple[tuple[DataRef, ...], ...]
    periods: tuple[tuple[int, int], ...]

    @property
    def specificity(self) -> tuple[int, int, int]:
        target = 2 if self.data else 1 if self.classes else 0
        return target, 1 if self.actors else 0, self.depth

    def applies_to(self, identities: frozenset[str], action: str, moment: int) -> bool:
        """Actor, action and period hold (class and data depend on the resource)."""
        return (
            all(level & identities for level in self.actors)
            and all(action in level for level in self.actions)
            and all(low <= moment <= high for low, high in self.periods)
        )

    def covers_type(self, resource_type: str) -> bool:
        return all(resource_type in level for level in self.classes)

    def named_actors(self) -> frozenset[str]:
        return frozenset().union(*self.actors) if self.actors else frozenset()


def counts(consent: dict[str, Any]) -> bool:
    """An active patient-privacy Consent with a provision."""
    scope = consent.get("scope") or {}
    codings = scope.get("coding") or [] if isinstance(scope, dict) else []
    privacy = any(
        isinstance(c, dict)
        and c.get("code") == "patient-privacy"
        and c.get("system") in (None, SCOPE_SYSTEM)
        for c in codings
    )
    return (
        consent.get("status") == "active" and privacy and isinstance(consent.get("provision"), dict)
    )


def consent_patient(consent: dict[str, Any]) -> str | None:
    reference = (consent.get("patient") or {}).get("reference")
    if isinstance(reference, str) and reference.startswith("Patient/"):
        return reference.removeprefix("Patient/")
    return None


def flatten(consent: dict[str, Any]) -> list[Provision]:
    root = consent.get("provision")
    if not isinstance(root, dict):
        return []
    return list(_walk(root, 0, _Inherited()))


@dataclass(frozen=True)
class _Inherited:
    actors: tuple[frozenset[str], ...] = ()
    actions: tuple[frozenset[str], ...] = ()
    classes: tuple[frozenset[str], ...] = ()
    data: tuple[tuple[DataRef, ...], ...] = ()
    periods: tuple[tuple[int, int], ...] = ()


def _walk(node: dict[str, Any], depth: int, above: _Inherited) -> Iterator[Provision]:
    here = _Inherited(
        above.actors + _level(_actors(node)),
        above.actions + _level(_codes(node.get("action"))),
        above.classes
        + _level(
            frozenset(
                c["code"]
                for c in _list(node.get("class"))
                if isinstance(c, dict) and isinstance(c.get("code"), str)
            )
        ),
        above.data + ((_data(node),) if _data(node) else ()),
        above.periods + ((bounds(node["period"]),) if isinstance(node.get("period"), dict) else ()),
    )
    if node.get("type") in ("permit", "deny"):
        yield Provision(
            node["type"] == "permit",
            depth,
            here.actors,
            here.actions,
            here.classes,
            here.data,
            here.periods,
        )
    for child in _list(node.get("provision")):
        if isinstance(child, dict):
            yield from _walk(child, depth + 1, here)


def _level(values: frozenset[str]) -> tuple[frozenset[str], ...]:
    return (values,) if values else ()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _actors(node: dict[str, Any]) -> frozenset[str]:
    found = set()
    for actor in _list(node.get("actor")):
        reference = ((actor or {}).get("reference") or {}).get("reference")
        if isinstance(reference, str):
            found.add(reference)
    return frozenset(found)


def _codes(concepts: Any) -> frozenset[str]:
    return frozenset(
        coding["code"]
        for concept in _list(concepts)
        if isinstance(concept, dict)
        for coding in _list(concept.get("coding"))
        if isinstance(coding, dict) and isinstance(coding.get("code"), str)
    )


def _data(node: dict[str, Any]) -> tuple[DataRef, ...]:
    refs = []
    for item in _list(node.get("data")):
        reference = ((item or {}).get("reference") or {}).get("reference")
        if not isinstance(reference, str) or reference.count("/") != 1:
            continue
        resource_type, resource_id = reference.split("/")
        refs.append(DataRef(resource_type, resource_id, str(item.get("meaning") or "instance")))
    return tuple(refs)


def boundaries(provisions: list[Provision]) -> Iterator[int]:
    """Moments at which a provision starts or stops applying."""
    for provision in provisions:
        for low, high in provision.periods:
            yield low
            yield high + 1
