"""Consent: the client decides who sees what, enforced on every request (docs/consent.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from ..fhir.errors import Category, FhirError
from ..fhir.interactions.context import Change, Context, Operation, WriteRule
from . import operations as consent_operations
from .audit import AccessRecord, AuditSink, AuditWriter
from .audit_process import AuditProcess
from .disclosure import DisclosureGate
from .policy import ConsentVisibility, PolicyDecisionPoint, Requester
from .provisions import CORRECT
from .rules import RequesterRule, global_rule
from .search_params import register_search_params
from .sharing import ShareChanges

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
    """The decision point, the audit writer and the disclosure gate one application
    shares; ``push_attempts`` is how often a push queued by a client's change is tried."""

    def __init__(
        self, engine: Engine, push_attempts: int = 10, audit_writer: str = "thread"
    ) -> None:
        self.pdp = PolicyDecisionPoint()
        self.audit: AuditSink = (
            AuditProcess(engine) if audit_writer == "process" else AuditWriter(engine)
        )
        self.disclosure = DisclosureGate()
        self.push_attempts = push_attempts

    def for_request(self, conn: Connection, requester: Requester, now: datetime) -> RequestPolicy:
        if requester.system:
            return RequestPolicy(None, ())
        if requester.actor is None:
            return RequestPolicy(_NOBODY, (_refuse_writes,))
        decisions = self.pdp.decisions(conn, requester, now)
        rules: tuple[WriteRule, ...] = (RequesterRule(decisions),)
        owned = decisions.visibility(CORRECT).owned
        if owned:  # the client or their representative: what they change is shared on
            rules += (ShareChanges(owned, self.disclosure, now, self.push_attempts),)
        return RequestPolicy(decisions.visibility(), rules)


def _refuse_writes(ctx: Context, change: Change) -> None:
    raise FhirError(Category.FORBIDDEN, "A token that acts for nobody cannot write")
