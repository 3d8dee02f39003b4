"""Conditions on the reference index table."""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, and_, true

from pgo_service.fhir.search.query_values import ReferenceValue, TokenValue


def reference_condition(table: FromClause, value: ReferenceValue) -> ColumnElement[bool]:
    if value.url is not None:
        return table.c.url == value.url
    parts: list[ColumnElement[bool]] = [table.c.target_id == value.target_id]
    if value.target_type is not None:
        parts.append(table.c.target_type == value.target_type)
    return and_(*parts)


def identifier_condition(table: FromClause, value: TokenValue) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if value.code is not None:
        parts.append(table.c.identifier_value == value.code)
    if not value.any_system:
        if value.system is None:
            parts.append(table.c.identifier_system.is_(None))
        else:
            parts.append(table.c.identifier_system == value.system)
    return and_(true(), *parts)
