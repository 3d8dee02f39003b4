"""A fixed lookup run straight on the driver's cursor.

A one-row SELECT by key costs SQLite about 5 µs; going through SQLAlchemy's execution
(execution context, result set, row objects, events) costs some 70 µs more. The two
statements every request runs, the bearer token's lookup and the read by id, take
this path: compiled once per dialect with SQLAlchemy, run in the connection's own
transaction, with the column types' bind and result processors still applied.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

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


_ABSENT = object()


@dataclass(frozen=True)
class _CompiledInsert:
    sql: str
    names: tuple[str, ...]  # the bind names, in the statement's order
    positional: bool
    # per bind, in that order: its processor and the scalar default of a column the
    # rows leave out (_ABSENT for the columns they carry)
    steps: tuple[tuple[str, _Processor, Any], ...]

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [
            (row[name] if default is _ABSENT else default)
            if process is None
            else process(row[name] if default is _ABSENT else default)
            for name, process, default in self.steps
        ]
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))

    def passes_as_is(self, keys: tuple[str, ...]) -> bool:
        """Whether tuples of ``keys`` are this statement's parameters unchanged."""
        return (
            self.positional
            and self.names == keys
            and all(process is None and default is _ABSENT for _, process, default in self.steps)
        )


class DirectInsert:
    """An INSERT of rows that all carry the same keys, run with the driver's
    ``executemany``: SQLAlchemy's execution builds a parameter set per row, which
    cost more than SQLite's insert of the row."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._compiled: dict[tuple[str, tuple[str, ...]], _CompiledInsert] = {}

    def _for(self, dialect: Dialect, keys: tuple[str, ...]) -> _CompiledInsert:
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            defaults = {
                c.key: c.default.arg  # type: ignore[attr-defined]
                for c in self.table.c
                if c.default is not None and c.default.is_scalar and c.key not in keys
            }
            columns = [*keys, *defaults]
            compiled = insert(self.table).compile(dialect=dialect, column_keys=columns)
            positional = compiled.positiontup
            names = tuple(positional) if positional is not None else tuple(compiled.binds)
            binds = {
                bind.key: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for bind in compiled.binds.values()
            }
            steps = tuple((n, binds[n], defaults.get(n, _ABSENT)) for n in names)
            found = _CompiledInsert(compiled.string, names, positional is not None, steps)
            self._compiled[(dialect.name, keys)] = found
        return found

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        compiled = self._for(conn.dialect, tuple(rows[0]))
        self._run(conn, compiled, [compiled.parameters(row) for row in rows])

    def execute_values(
        self, conn: Connection, keys: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Rows given as tuples of ``keys``' values: where the driver takes them as they
        are (SQLite, keys in the table's order, no processing) no row is copied."""
        if not rows:
            return
        compiled = self._for(conn.dialect, keys)
        if compiled.passes_as_is(keys):
            self._run(conn, compiled, rows)
        else:
            self._run(
                conn,
                compiled,
                [compiled.parameters(dict(zip(keys, row, strict=True))) for row in rows],
            )

    def _run(self, conn: Connection, compiled: _CompiledInsert, parameters: Sequence[Any]) -> None:
        dbapi = conn.dialect.loaded_dbapi
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, parameters)
        except dbapi.Error as exc:
            raise DBAPIError.instance(
                compiled.sql, None, exc, dbapi.Error, hide_parameters=True
            ) from exc
        finally:
            cursor.close()
