"""Consent: the client decides who sees what, enforced on every request (docs/consent.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from ..fhir.errors import Category, FhirError
from ..fhir.interactions.context import Change, Context, Operation, WriteRule
from . import operations as consent_operations
from .audit import AccessRecord, AuditWriter
from .disclosure import DisclosureGate
from .policy import ConsentVisibility, PolicyDecisionPoint, Requester
from .rules import RequesterRule, global_rule
from .search_params import register_search_params

__all__ = [
    "AccessRecord",
    "ConsentEnforcement",
    "DisclosureGate",
    "RequestPolicy",
    "Requester",
    "register_search_params",
    "rules",
]

_NOBODY = ConsentVisibility(frozenset(), {})


def operations() -> tuple[Operation, ...]:
    return (
        Operation(
            "grant",
            consent_operations.GRANT_DEFINITION,
            consent_operations.grant,
            ("instance",),
            ("Patient",),
            affects_state=True,
        ),
        Operation(
            "revoke",
            consent_operations.REVOKE_DEFINITION,
            consent_operations.revoke,
            ("instance",),
            ("Patient",),
            affects_state=True,
        ),
    )


def rules() -> tuple[WriteRule, ...]:
    """Rules for every write, whoever makes it."""
    return (global_rule,)


@dataclass(frozen=True)
class RequestPolicy:
    visibility: ConsentVisibility | None  # None: a system caller, consent not applied
    rules: tuple[WriteRule, ...]


class ConsentEnforcement:
    """The decision point and the audit writer one application shares."""

    def __init__(self, engine: Engine) -> None:
        self.pdp = PolicyDecisionPoint()
        self.audit = AuditWriter(engine)

    def for_request(self, conn: Connection, requester: Requester, now: datetime) -> RequestPolicy:
        if requester.system:
            return RequestPolicy(None, ())
        if requester.actor is None:
            return RequestPolicy(_NOBODY, (_refuse_writes,))
        decisions = self.pdp.decisions(conn, requester, now)
        return RequestPolicy(decisions.visibility(), (RequesterRule(decisions),))


def _refuse_writes(ctx: Context, change: Change) -> None:
    raise FhirError(Category.FORBIDDEN, "A token that acts for nobody cannot write")
