"""The engine's hook for access policies: what a request may see.

The engine knows nothing of consent or tokens. A domain package hands it a
``Visibility`` (as HAPI hands interceptors to its server): a SQL condition over the
rows of the resource tables, applied inside every statement that reads resources
(searches, counts, chained parameters and ``_has``, includes, history,
conditional matching), and a check of one stored resource for reads. Because
searches are filtered in the database, totals and paging agree with what is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy import ColumnElement, Connection, FromClause

# The rows of a resource table the caller may see: a Visibility's ``condition``.
RowFilter = Callable[[FromClause], ColumnElement[bool]]


class StoredRow(Protocol):
    """A stored resource or version, as far as visibility goes."""

    @property
    def resource_type(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def patient_id(self) -> str | None: ...


class Visibility(Protocol):
    def condition(self, table: FromClause) -> ColumnElement[bool]:
        """The rows of ``table`` (columns ``resource_type``, ``id``, ``patient_id``)
        the caller may see."""
        ...

    def permits(self, conn: Connection, stored: StoredRow) -> bool:
        """Whether the caller may see this stored resource or version."""
        ...
