"""Compiling the provisions that apply to one requester into a decision per client
and resource type: a default plus data exceptions, most specific first.

A data provision is more specific than any class or open provision, so for one
resource type the answer is the first data exception whose data matches, else the
default (the decision of the most specific class or open provisions; deny on a tie,
deny when none applies).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .provisions import DataRef, Provision


@dataclass(frozen=True)
class Exception_:
    permit: bool
    match: tuple[tuple[DataRef, ...], ...]  # every level must match one of its refs


@dataclass(frozen=True)
class TypeRule:
    default: bool
    exceptions: tuple[Exception_, ...] = ()

    @property
    def can_permit(self) -> bool:
        return self.default or any(e.permit for e in self.exceptions)


DENY = TypeRule(False)


@dataclass(frozen=True)
class PatientRule:
    types: Mapping[str, TypeRule] = field(default_factory=dict)
    other: TypeRule = DENY  # for the types no applicable provision names in ``class``

    def for_type(self, resource_type: str) -> TypeRule:
        return self.types.get(resource_type, self.other)

    @property
    def can_permit(self) -> bool:
        return self.other.can_permit or any(r.can_permit for r in self.types.values())


def _order(provision: Provision) -> tuple[tuple[int, int, int], bool]:
    return provision.specificity, not provision.permit  # deny first on a tie (sorted desc)


def type_rule(applicable: Iterable[Provision], resource_type: str | None) -> TypeRule:
    """The rule for one type; ``None`` for types no class names (only open provisions)."""
    covering = [
        p
        for p in applicable
        if (p.covers_type(resource_type) if resource_type is not None else not p.classes)
    ]
    plain = sorted((p for p in covering if not p.data), key=_order, reverse=True)
    default = bool(plain) and plain[0].permit
    data = sorted((p for p in covering if p.data), key=_order, reverse=True)
    exceptions = tuple(
        Exception_(p.permit, p.data) for p in data if _may_match(p.data, resource_type)
    )
    return TypeRule(default, exceptions)


def _may_match(levels: tuple[tuple[DataRef, ...], ...], resource_type: str | None) -> bool:
    if resource_type is None:  # the rule of every type no class names: any instance may
        return True
    return all(
        any(ref.meaning != "instance" or ref.resource_type == resource_type for ref in level)
        for level in levels
    )


def patient_rule(applicable: list[Provision]) -> PatientRule:
    named = sorted({t for p in applicable for level in p.classes for t in level})
    return PatientRule({t: type_rule(applicable, t) for t in named}, type_rule(applicable, None))
