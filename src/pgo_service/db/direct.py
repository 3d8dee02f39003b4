"""A fixed lookup run straight on the driver's cursor.

A one-row SELECT by key costs SQLite about 5 µs; going through SQLAlchemy's execution
(execution context, result set, row objects, events) costs some 70 µs more. The two
statements every request runs, the bearer token's lookup and the read by id, take
this path: compiled once per dialect with SQLAlchemy, run in the connection's own
transaction, with the column types' bind and result processors still applied.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order, for qmark/format styles
    binds: Mapping[str, _Processor]
    results: tuple[_Processor, ...]
    row: Any  # the namedtuple type of a result row


class DirectLookup:
    """A SELECT that returns at most one row (by a unique key)."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            binds = {
                name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for name, bind in ((b.key, b) for b in compiled.binds.values())
            }
            columns = self.statement.selected_columns
            results = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            )
            positional = compiled.positiontup
            found = _Compiled(
                compiled.string,
                tuple(positional) if positional is not None else None,
                binds,
                results,
                namedtuple("Row", [c.key for c in columns]),  # type: ignore[misc]
            )
            self._by_dialect[dialect.name] = found
        return found

    def first(self, conn: Connection, **params: Any) -> Any | None:
        """The row (a named tuple) or None."""
        compiled = self._compiled(conn.dialect)
        values = {
            name: (process(params[name]) if process is not None else params[name])
            for name, process in compiled.binds.items()
        }
        arguments: Any = (
            values
            if compiled.positional is None
            else tuple(values[name] for name in compiled.positional)
        )
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, arguments)
            row = cursor.fetchone()
        except conn.dialect.loaded_dbapi.Error:
            # SQLAlchemy's own path raises its wrapped error and invalidates a
            # connection that was lost, as every other statement does.
            return conn.execute(self.statement, params).first()
        finally:
            cursor.close()
        if row is None:
            return None
        return compiled.row(
            *(v if p is None else p(v) for p, v in zip(compiled.results, row, strict=True))
        )
