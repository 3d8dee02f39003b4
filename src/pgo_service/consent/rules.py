"""Write rules of consent: who may change what, Consents that mean what they say,
audit records nobody changes, and the epoch bump that makes revocation immediate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..auth.actor_revocation import revoke_for_client
from ..fhir.compartment import patient_compartment
from ..fhir.errors import Category, FhirError
from ..fhir.interactions.context import Change, Context
from ..fhir.jsonio import parse_json
from ..fhir.search.normalize import to_micros
from ..fhir.store import utc_now
from ..sync.connect import forget_connection
from ..sync.jobs import cancel_jobs
from ..sync.registry import PROVIDER_NAME_SYSTEM
from .identities import is_regiebehandelaar
from .policy import Decisions, bump_epoch
from .provisions import CORRECT, MEANINGS, consent_patient, counts, flatten

# Writes that can change an access decision: the Consents themselves, the networks
# (CareTeam membership), professionals' roles and representatives.
POLICY_TYPES = frozenset({"Consent", "CareTeam", "PractitionerRole", "RelatedPerson"})


def forbidden(message: str) -> FhirError:
    return FhirError(Category.FORBIDDEN, message)


def global_rule(ctx: Context, change: Change) -> None:
    """Applies to every API write, operators' tools included."""
    if change.resource_type == "AuditEvent":
        raise FhirError(
            Category.NOT_ALLOWED, "Audit records are written by the service and never changed"
        )
    if change.resource_type == "Consent" and change.body is not None:
        _check_consent(change.body)
    if change.resource_type in POLICY_TYPES:
        ctx.defer("consent:epoch", lambda: bump_epoch(ctx.store.conn))
    if change.resource_type == "Consent":
        _revoke_lost_access(ctx, change, utc_now())


def _check_consent(body: dict[str, Any]) -> None:
    if consent_patient(body) is None:
        raise FhirError(Category.INVALID, "A Consent names its client in patient (Patient/<id>)")
    for item in _data_items(body.get("provision")):
        meaning = item.get("meaning") or "instance"
        if meaning not in MEANINGS:
            raise FhirError(
                Category.INVALID,
                f"provision.data.meaning {meaning!r} is not supported; use " + ", ".join(MEANINGS),
            )
    try:
        flatten(body)
    except (ValueError, KeyError) as exc:
        raise FhirError(
            Category.INVALID, f"A provision period is not a valid dateTime: {exc}"
        ) from exc


def _data_items(node: Any) -> list[dict[str, Any]]:
    if not isinstance(node, dict):
        return []
    items = [d for d in node.get("data") or [] if isinstance(d, dict)]
    for child in node.get("provision") or []:
        items.extend(_data_items(child))
    return items


def _permitted_actors(document: dict[str, Any] | None) -> dict[str, set[str]]:
    """Per client, the actors a counting Consent permits something."""
    if document is None or not counts(document):
        return {}
    patient_id = consent_patient(document)
    if patient_id is None:
        return {}
    actors = {a for p in flatten(document) if p.permit for a in p.named_actors()}
    return {patient_id: actors}


def _revoke_lost_access(ctx: Context, change: Change, now: datetime) -> None:
    """Tokens of an actor the client's consent stops permitting are revoked, the
    outbox's unfinished jobs to the provider that actor is are cancelled, and the
    tokens the service holds for the client at that provider are forgotten."""
    before = None
    if change.current is not None and change.current.content:
        before = parse_json(change.current.content)
    old = _permitted_actors(before)
    new = _permitted_actors(change.body)
    for patient_id, actors in old.items():
        for actor in sorted(actors - new.get(patient_id, set())):
            revoke_for_client(ctx.store.conn, actor, patient_id, now)
            for provider in _provider_names(ctx, actor):
                cancel_jobs(
                    ctx.store.conn,
                    patient_id=patient_id,
                    provider_name=provider,
                    now=now,
                    reason="the client's consent no longer permits this provider",
                )
                forget_connection(ctx.store.conn, patient_id, provider, now)


def _provider_names(ctx: Context, actor: str) -> list[str]:
    if not actor.startswith("Organization/"):
        return []
    stored = ctx.store.read("Organization", actor.removeprefix("Organization/"))
    if stored is None or not stored.content:
        return []
    return [
        i["value"]
        for i in parse_json(stored.content).get("identifier") or []
        if isinstance(i, dict)
        and i.get("system") == PROVIDER_NAME_SYSTEM
        and isinstance(i.get("value"), str)
    ]


class RequesterRule:
    """The requester's own limits: writes need a ``correct`` permit (or ownership)."""

    def __init__(self, decisions: Decisions) -> None:
        self.decisions = decisions

    def __call__(self, ctx: Context, change: Change) -> None:
        if change.resource_type == "PractitionerRole":
            raise forbidden("Roles of professionals are kept by the operator's directory")
        visibility = self.decisions.visibility(CORRECT)
        conn = ctx.store.conn
        current = change.current
        if (
            current is not None
            and not current.deleted
            and not visibility.permits_row(
                conn, current.resource_type, current.id, current.patient_id
            )
        ):
            raise forbidden(f"{current.reference} may not be changed by the requester")
        patient_id = current.patient_id if current is not None else None
        if change.body is not None:
            body = {**change.body, "id": change.resource_id}
            patient_id = patient_compartment(change.resource_type, body)
            if not visibility.permits_row(
                conn, change.resource_type, change.resource_id, patient_id
            ):
                raise forbidden(
                    f"The requester may not write {change.resource_type} for this client"
                )
        if change.resource_type == "Consent" and patient_id is not None:
            self._consent_writer(ctx, patient_id, change.body)

    def _consent_writer(self, ctx: Context, patient_id: str, body: dict[str, Any] | None) -> None:
        if patient_id in self.decisions.visibility(CORRECT).owned:
            return
        references = self.decisions.identities.references
        moment = to_micros(utc_now())
        if not is_regiebehandelaar(ctx.store, references, patient_id, moment):
            raise forbidden(
                "Only the client, their representative or their regiebehandelaar (where the "
                "client allows it) may write the client's consent"
            )
        named = {a for p in flatten(body or {}) for a in p.named_actors()}
        if named & references:
            raise forbidden("A professional never grants themselves access")
