"""Changes the client makes to what providers share go to those providers.

When the client (or their representative) writes an agreement (a CarePlan in the
zorgleefplan's category ``afspraak``) or a Goal of their own, a push to every data
service that shares it (``sync.sharing.push_targets``) whose provider the client's
consent permits ``disclose`` is queued in the same transaction, once the request's
writes are done. A write that stores nothing new queues nothing; a push still queued
for the resource covers the change (it sends the version current when it runs).

Nobody else's writes are pushed: not a provider's own (its EHR already has them),
not what the pull merges (no echo back to where it came from), not a professional's
or an operator's. The zorgleefplan itself is the client's and is not pushed.

A delete is not pushed (MedMij gives a PGO no way to delete at a provider, and the
provider's record is its own); the pushes of the resource still queued are
cancelled, since nothing is left to send. Ending an agreement is an update and
pushes like any other.
"""

from __future__ import annotations

from datetime import datetime

from ..careplan.classify import is_agreement
from ..fhir.compartment import patient_compartment
from ..fhir.interactions.context import Change, Context
from ..sync.sharing import SHARED_TYPES, cancel_pushes, push_targets, queue_pushes
from .disclosure import DisclosureGate


class ShareChanges:
    """The write rule of one request by a requester who owns ``owned`` (the client
    themself, or the clients they currently represent)."""

    def __init__(
        self, owned: frozenset[str], gate: DisclosureGate, now: datetime, max_attempts: int
    ) -> None:
        self.owned = owned
        self.gate = gate
        self.now = now
        self.max_attempts = max_attempts

    def __call__(self, ctx: Context, change: Change) -> None:
        kind = change.resource_type
        if kind not in SHARED_TYPES:
            return
        key = f"sync-push:{kind}/{change.resource_id}"
        if change.body is None:
            current = change.current
            if current is not None and current.patient_id in self.owned:
                ctx.defer(key, lambda: self._deleted(ctx, change))
            return
        if kind == "CarePlan" and not is_agreement(kind, change.body):
            return
        if patient_compartment(kind, {**change.body, "id": change.resource_id}) not in self.owned:
            return
        ctx.defer(key, lambda: self._changed(ctx, change))

    def _changed(self, ctx: Context, change: Change) -> None:
        conn = ctx.store.conn
        stored = ctx.store.read(change.resource_type, change.resource_id)
        if stored is None or stored.deleted:
            self._deleted(ctx, change)
            return
        before = change.current
        if before is not None and not before.deleted and before.version_id == stored.version_id:
            return  # the same content again: nothing was written
        targets = [
            target
            for target in push_targets(conn, stored, self.now)
            if self.gate(conn, stored, target.provider_name)
        ]
        queue_pushes(conn, stored, targets, now=self.now, max_attempts=self.max_attempts)

    def _deleted(self, ctx: Context, change: Change) -> None:
        cancel_pushes(
            ctx.store.conn,
            change.resource_type,
            change.resource_id,
            self.now,
            "deleted here; a delete is not sent to providers",
        )
