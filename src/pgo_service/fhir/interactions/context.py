"""What every interaction gets: the store bound to the request's transaction, and the
extensions the domain packages plug in (write rules, operations)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import Category, FhirError
from ..store import ResourceStore, StoredVersion
from ..visibility import RowFilter, StoredRow, Visibility

if TYPE_CHECKING:
    from ..exchange import FhirRequest, FhirResponse


@dataclass(frozen=True)
class Change:
    """A write about to be stored: ``body`` is None for a delete."""

    resource_type: str
    resource_id: str
    method: str
    body: dict[str, Any] | None
    current: StoredVersion | None


class WriteRule(Protocol):
    """Checks a change before it is stored; raises FhirError to refuse it.

    Rules run inside the request's transaction after the resource's write lock is
    taken, so they may read (and lock) whatever they need to decide consistently.
    """

    def __call__(self, ctx: Context, change: Change) -> None: ...


@dataclass(frozen=True)
class OperationCall:
    name: str  # without the "$"
    resource_type: str | None
    resource_id: str | None


OperationHandler = Callable[["Context", "FhirRequest", OperationCall], "FhirResponse"]


@dataclass(frozen=True)
class Operation:
    name: str
    definition: str  # canonical URL of the OperationDefinition
    handler: OperationHandler
    levels: tuple[str, ...]  # "system", "type", "instance"
    resource_types: tuple[str, ...] = ()
    affects_state: bool = False


@dataclass
class Context:
    store: ResourceStore
    default_page_size: int = 20
    max_page_size: int = 1000
    rules: Sequence[WriteRule] = ()
    operations: Mapping[str, Operation] = field(default_factory=dict)
    deferred: dict[str, Callable[[], None]] = field(default_factory=dict)
    visibility: Visibility | None = None  # None: everything is visible
    # What the response discloses, as (reference, patient id): for the audit trail.
    shown: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def visible(self) -> RowFilter | None:
        """The row filter every reading statement applies."""
        return self.visibility.condition if self.visibility is not None else None

    def show(self, reference: str, patient_id: str | None) -> None:
        self.shown.append((reference, patient_id))

    def is_visible(self, stored: StoredRow) -> bool:
        return self.visibility is None or self.visibility.permits(self.store.conn, stored)

    def require_visible(self, stored: StoredRow) -> None:
        if not self.is_visible(stored):
            reference = f"{stored.resource_type}/{stored.id}"
            self.show(reference, stored.patient_id)  # whose data was refused
            raise FhirError(Category.FORBIDDEN, f"{reference} is not shared with the requester")

    def check(self, change: Change) -> None:
        for rule in self.rules:
            rule(self, change)

    def defer(self, key: str, check: Callable[[], None]) -> None:
        """Run ``check`` once, after every write of the request (or Bundle entry set).

        For invariants over several resources that one transaction may pass through an
        intermediate state of, such as replacing a client's active plan (the spec runs
        a Bundle's POSTs before its PUTs).
        """
        self.deferred.setdefault(key, check)

    def run_deferred(self) -> None:
        while self.deferred:
            key = next(iter(self.deferred))
            self.deferred.pop(key)()
