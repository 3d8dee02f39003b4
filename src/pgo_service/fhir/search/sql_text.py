"""Conditions on the string and uri index tables."""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause

from pgo_service.fhir.search.query_values import StringValue, UriValue


def string_condition(
    table: FromClause, modifier: str | None, value: StringValue
) -> ColumnElement[bool]:
    if modifier == "exact":
        return table.c.exact == value.text
    if modifier == "contains":
        return table.c.value.contains(value.text, autoescape=True)
    return table.c.value.startswith(value.text, autoescape=True)


def uri_condition(table: FromClause, modifier: str | None, value: UriValue) -> ColumnElement[bool]:
    if modifier == "below":
        return table.c.value.startswith(value.uri, autoescape=True)
    if modifier == "above":
        return table.c.value.in_(_uri_prefixes(value.uri))
    return table.c.value == value.uri


def _uri_prefixes(uri: str) -> list[str]:
    """``uri`` and each of its parents cut at a "/", so ``:above`` can use the index."""
    prefixes = [uri]
    cut = uri.rstrip("/")
    scheme_end = cut.find("://") + 3 if "://" in cut else 0
    while "/" in cut[scheme_end:]:
        cut = cut[: cut.rindex("/")]
        prefixes.extend((cut, cut + "/"))
    return prefixes
