"""Conditions on the token index table."""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, and_, true

from pgo_service.fhir.search.query_values import StringValue, TokenValue


def token_condition(table: FromClause, value: TokenValue) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if value.code is not None:
        parts.append(table.c.code == value.code)
    if not value.any_system:
        if value.system is None:
            parts.append(table.c.system.is_(None))
        else:
            parts.append(table.c.system == value.system)
    return and_(true(), *parts)


def token_text_condition(table: FromClause, value: StringValue) -> ColumnElement[bool]:
    return table.c.text.startswith(value.text, autoescape=True)
