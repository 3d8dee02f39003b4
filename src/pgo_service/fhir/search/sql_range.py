"""Prefix comparisons for date, number and quantity values against indexed ranges.

The index stores each value as the inclusive range ``[low, high]`` its precision
implies (a date's day, month or year; a decimal's significant figures), and the
search value implies one too. Both are compared as in the R4 table of §3.1.1.4.2:
``eq`` means the stored range lies within the searched one, ``gt`` that it reaches
above it, ``ge`` either of the two, and so on.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, not_, or_, true

from pgo_service.fhir.search.normalize import MAX_TIME, MIN_TIME, from_micros
from pgo_service.fhir.search.query_values import DateValue, NumberValue, Prefix

_APPROX_FRACTION = 0.1
Bound = int | float | datetime


def date_condition(
    low: ColumnElement[Any], high: ColumnElement[Any], value: DateValue
) -> ColumnElement[bool]:
    """``low``/``high`` are epoch-microsecond columns of the index."""
    return range_compare(low, high, value.prefix, *_date_bounds(value))


def instant_condition(column: ColumnElement[Any], value: DateValue) -> ColumnElement[bool]:
    """The same comparisons against a naive-UTC DateTime column holding an instant."""
    q_low, q_high, ap_low, ap_high = (_naive(b) for b in _date_bounds(value))
    return range_compare(column, column, value.prefix, q_low, q_high, ap_low, ap_high)


def number_condition(table: FromClause, value: NumberValue) -> ColumnElement[bool]:
    slack = abs(value.value) * _APPROX_FRACTION
    ap_low, ap_high = min(value.low, value.value - slack), max(value.high, value.value + slack)
    compare = range_compare(
        table.c.low, table.c.high, value.prefix, value.low, value.high, ap_low, ap_high
    )
    return and_(compare, _units(table, value))


def range_compare(
    low: ColumnElement[Any],
    high: ColumnElement[Any],
    prefix: Prefix,
    q_low: Bound,
    q_high: Bound,
    ap_low: Bound,
    ap_high: Bound,
) -> ColumnElement[bool]:
    contained: ColumnElement[bool] = and_(low >= q_low, high <= q_high)
    match prefix:
        case "eq":
            return contained
        case "ne":
            return not_(contained)
        case "gt":
            return high > q_high
        case "lt":
            return low < q_low
        case "ge":
            return or_(high > q_high, contained)
        case "le":
            return or_(low < q_low, contained)
        case "sa":
            return low > q_high
        case "eb":
            return high < q_low
        case "ap":
            return and_(low <= ap_high, high >= ap_low)


def _date_bounds(value: DateValue) -> tuple[int, int, int, int]:
    now = int(time.time() * 1_000_000)
    middle = (value.low + value.high) // 2
    slack = int(abs(now - middle) * _APPROX_FRACTION)
    ap_low = max(MIN_TIME, value.low - slack)
    ap_high = min(MAX_TIME, value.high + slack)
    return value.low, value.high, ap_low, ap_high


def _naive(micros: int) -> datetime:
    return from_micros(micros).replace(tzinfo=None)


def _units(table: FromClause, value: NumberValue) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if value.code is not None:
        parts.append(table.c.code == value.code)
    if value.system is not None:
        parts.append(table.c.system == value.system)
    return and_(true(), *parts)
