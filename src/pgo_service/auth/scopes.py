"""Scopes: SMART App Launch v2 resource scopes and MedMij-style ``<name>~<dataservice>``.

A SMART v2 scope is ``<context>/<type>.<interactions>`` with context ``patient``,
``user`` or ``system``, a resource type or ``*``, and interactions in the order
``c r u d s`` (SMART v2 §scopes-for-requesting-fhir-resources); the v1 suffixes
``read``, ``write`` and ``*`` are read as ``rs``, ``cud`` and ``cruds``.

A MedMij scope ``<name>~<dataservice>`` names a provider and one of its data
services; it stands for the patient-context SMART scopes in ``DATASERVICES``. The
name must be this service's own provider name (``PGO_PROVIDER_NAME``, as the
network's provider list knows it): a scope for another provider's data service
is not ours to grant. Scopes already accepted (a client's registration, a grant,
a token) are read back with ``ScopeSet.stored``, which does not check the name
again, so renaming the provider does not break what was granted before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .errors import invalid_scope

INTERACTIONS = "cruds"
_SMART = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)$")
_MEDMIJ = re.compile(r"^([A-Za-z0-9.@\-]+)~([A-Za-z0-9.\-]+)$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}

_PLAN_TYPES = ("CarePlan", "Goal", "CareTeam", "Task", "Condition", "Observation")

DATASERVICES: dict[str, tuple[str, ...]] = {
    # read the zorgleefplan and what it refers to
    "zorgleefplan": (*(f"patient/{t}.rs" for t in _PLAN_TYPES), "patient/Patient.rs"),
    # read and contribute to it (no deletes)
    "zorgleefplan-bijdragen": (
        *(f"patient/{t}.crus" for t in _PLAN_TYPES),
        "patient/Communication.crus",
        "patient/Patient.rs",
    ),
}


@dataclass(frozen=True)
class ResourceScope:
    context: str  # patient | user | system
    resource_type: str  # a type or "*"
    interactions: frozenset[str]

    def allows(self, resource_type: str, interaction: str) -> bool:
        return self.resource_type in ("*", resource_type) and interaction in self.interactions

    def covers(self, other: ResourceScope) -> bool:
        return (
            self.context == other.context
            and self.resource_type in ("*", other.resource_type)
            and other.interactions <= self.interactions
        )


def _smart(token: str) -> ResourceScope | None:
    match = _SMART.match(token)
    if match is None:
        return None
    context, resource_type, suffix = match.groups()
    letters = _V1.get(suffix, suffix)
    if not letters or any(c not in INTERACTIONS for c in letters):
        return None
    ordered = [c for c in INTERACTIONS if c in letters]
    if "".join(ordered) != letters and suffix not in _V1:
        return None  # SMART v2 requires the canonical order
    return ResourceScope(context, resource_type, frozenset(letters))


def expand(token: str, provider_name: str | None) -> tuple[ResourceScope, ...]:
    """The resource scopes one scope token stands for; raises invalid_scope if unknown.

    ``provider_name`` is what the name part of a MedMij scope must be; None accepts
    any (only for scopes that were checked when they were accepted).
    """
    single = _smart(token)
    if single is not None:
        return (single,)
    medmij = _MEDMIJ.match(token)
    if medmij is None:
        raise invalid_scope(f"Unknown scope {token!r}")
    name, service = medmij.groups()
    if provider_name is not None and name != provider_name:
        raise invalid_scope(f"Scope {token!r} is not for this provider ({provider_name})")
    if service not in DATASERVICES:
        raise invalid_scope(f"Unknown data service in scope {token!r}")
    return tuple(s for t in DATASERVICES[service] for s in expand(t, None))


@dataclass(frozen=True)
class ScopeSet:
    tokens: tuple[str, ...]
    grants: tuple[ResourceScope, ...]

    @classmethod
    def parse(cls, text: str | None, provider_name: str) -> ScopeSet:
        """Scopes a client asks for or an operator registers, checked in full."""
        return cls._parse(text, provider_name)

    @classmethod
    def stored(cls, text: str | None) -> ScopeSet:
        """Scopes read back from storage: they were checked by ``parse`` when accepted."""
        return _stored(text)

    @classmethod
    def _parse(cls, text: str | None, provider_name: str | None) -> ScopeSet:
        tokens = tuple(dict.fromkeys((text or "").split()))
        return cls(tokens, tuple(s for t in tokens for s in expand(t, provider_name)))

    def __str__(self) -> str:
        return " ".join(self.tokens)

    @property
    def contexts(self) -> frozenset[str]:
        return frozenset(g.context for g in self.grants)

    def allows(self, resource_type: str, interaction: str) -> bool:
        return any(g.allows(resource_type, interaction) for g in self.grants)

    def within(self, allowed: ScopeSet) -> bool:
        """Every grant here is covered by a grant of ``allowed``."""
        return all(any(a.covers(g) for a in allowed.grants) for g in self.grants)


@lru_cache(maxsize=1024)
def _stored(text: str | None) -> ScopeSet:
    # Every request reads its token's scopes back; a handful of distinct texts recur.
    return ScopeSet._parse(text, None)
