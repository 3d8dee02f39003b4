"""SQLAlchemy Core statements for a ``SearchQuery``.

Every filter becomes an EXISTS subquery on an index table keyed by
(resource_type, param, resource_id), so the match query stays a single statement
whatever the number of parameters. Default order: resource id ascending (binary
collation on every backend), which does not move when resources are updated; any
``_sort`` keys come first and the id always breaks ties, so pages are stable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    and_,
    collate,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from pgo_service.db.models import INDEX_TABLES, resource, search_reference
from pgo_service.fhir.search import query_values as qv
from pgo_service.fhir.search.aliases import alias_of
from pgo_service.fhir.search.index import ON_RESOURCE_TABLE
from pgo_service.fhir.search.parts import searched_params
from pgo_service.fhir.search.query import (
    ChainClause,
    Clause,
    HasClause,
    ParamClause,
    SearchQuery,
    SortKey,
)
from pgo_service.fhir.search.sql_range import date_condition, instant_condition, number_condition
from pgo_service.fhir.search.sql_reference import identifier_condition, reference_condition
from pgo_service.fhir.search.sql_text import string_condition, uri_condition
from pgo_service.fhir.search.sql_token import token_condition, token_text_condition
from pgo_service.fhir.visibility import RowFilter

FoundRow = tuple[str, str, int, Any, bytes, str | None]


def found_columns(table: FromClause) -> list[ColumnElement[Any]]:
    c = table.c
    return [c.resource_type, c.id, c.version_id, c.last_updated, c.content, c.patient_id]


def filters(
    resource_type: str,
    res: FromClause,
    clauses: list[Clause],
    driver: ParamClause | None = None,
    visible: RowFilter | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE terms of a search. With a ``driver`` the query starts from the ids that
    clause selects (from its value index) and tests the other clauses per candidate.
    ``visible`` restricts the matches, and the resources chains and ``_has`` look at."""
    conditions = [res.c.resource_type == resource_type]
    if driver is not None:
        driving = driving_select(resource_type, driver)
        assert driving is not None
        conditions.append(res.c.id.in_(driving))
    return conditions + _other_filters(resource_type, res, clauses, driver, visible)


def _other_filters(
    resource_type: str,
    res: FromClause,
    clauses: list[Clause],
    skipped: Clause | None,
    visible: RowFilter | None,
) -> list[ColumnElement[bool]]:
    conditions = [res.c.deleted == false()]
    if visible is not None:
        conditions.append(visible(res))
    conditions += [
        clause_condition(resource_type, res, clause, visible)
        for clause in clauses
        if clause is not skipped
    ]
    return conditions


def walkable(resource_type: str, clause: Clause) -> bool:
    """Whether the value index of ``clause`` lists its matches in id order: one exact
    token (system and code) or one typed reference, of a parameter without parts."""
    if not isinstance(clause, ParamClause) or clause.modifier or clause.missing is not None:
        return False
    if len(clause.values) != 1 or len(searched_params(resource_type, clause.code)) != 1:
        return False
    match clause.values[0]:
        case qv.TokenValue() as token if clause.type == "token":
            return token.code is not None and not token.any_system
        case qv.ReferenceValue() as ref if clause.type == "reference":
            return ref.url is None and ref.target_type is not None and ref.target_id is not None
    return False


def walk_select(
    query: SearchQuery,
    walk: ParamClause,
    dialect: str,
    *,
    extra: int = 0,
    visible: RowFilter | None = None,
) -> Select[Any]:
    """The page of matches in id order, read along the value index of a ``walkable``
    clause and tested against the others, so that it stops with the page full: for a
    page of a clause matching thousands, scanning the resource table in id order would
    test every resource until the page fills, and reading the clause's ids into a set
    would read all of them."""
    (value,) = walk.values
    rows, earlier = alias_of(INDEX_TABLES[walk.type]), alias_of(INDEX_TABLES[walk.type])
    res = resource
    # Two rows of one resource with this value (a token under two displays) would
    # show it twice: only the first row of each resource counts.
    repeated = exists(
        select(1)
        .select_from(earlier)
        .where(
            earlier.c.resource_type == rows.c.resource_type,
            earlier.c.param == rows.c.param,
            _value_condition(earlier, walk, value),
            earlier.c.resource_id == rows.c.resource_id,
            earlier.c.pk < rows.c.pk,
        )
        .correlate(rows)
    )
    joined = rows.join(
        res, and_(res.c.resource_type == rows.c.resource_type, res.c.id == rows.c.resource_id)
    )
    return (
        select(*found_columns(res))
        .select_from(joined)
        .where(
            rows.c.resource_type == query.resource_type,
            rows.c.param == walk.code,
            _value_condition(rows, walk, value),
            not_(repeated),
            *_other_filters(query.resource_type, res, query.clauses, walk, visible),
        )
        .order_by(_binary(rows.c.resource_id, dialect).asc())
        .offset(query.offset)
        .limit(query.count + extra)
    )


def param_is(table: FromClause, resource_type: str, code: str) -> ColumnElement[bool]:
    """The index rows of the parameter ``code``: its own and its parts' (see ``parts``)."""
    codes = searched_params(resource_type, code)
    return table.c.param == codes[0] if len(codes) == 1 else table.c.param.in_(codes)


def driving_select(resource_type: str, clause: Clause) -> Select[Any] | None:
    """The ids a plain parameter clause matches, read from its value index alone.

    None for clauses that cannot drive: chains, ``_has``, ``:missing``, ``:not`` and the
    parameters answered from the resource table itself.
    """
    if (
        not isinstance(clause, ParamClause)
        or clause.code in ON_RESOURCE_TABLE
        or clause.missing is not None
        or clause.modifier == "not"
    ):
        return None
    table = alias_of(INDEX_TABLES["quantity" if clause.type == "number" else clause.type])
    return select(table.c.resource_id).where(
        table.c.resource_type == resource_type,
        param_is(table, resource_type, clause.code),
        or_(*(_value_condition(table, clause, v) for v in clause.values)),
    )


def match_select(
    query: SearchQuery,
    dialect: str,
    *,
    driver: ParamClause | None = None,
    extra: int = 0,
    visible: RowFilter | None = None,
) -> Select[Any]:
    """The page of matches; ``extra`` more rows tell whether another page follows."""
    res = resource
    return (
        select(*found_columns(res))
        .where(*filters(query.resource_type, res, query.clauses, driver, visible))
        .order_by(*order_by(query.resource_type, res, query.sort, dialect))
        .offset(query.offset)
        .limit(query.count + extra)
    )


def count_select(
    resource_type: str,
    clauses: list[Clause],
    driver: ParamClause | None = None,
    visible: RowFilter | None = None,
) -> Select[Any]:
    res = resource
    where = filters(resource_type, res, clauses, driver, visible)
    return select(func.count()).select_from(res).where(*where)


def clause_condition(
    resource_type: str, res: FromClause, clause: Clause, visible: RowFilter | None = None
) -> ColumnElement[bool]:
    if isinstance(clause, ParamClause):
        return _param_condition(resource_type, res, clause)
    if isinstance(clause, ChainClause):
        return _chain_condition(resource_type, res, clause, visible)
    return _has_condition(resource_type, res, clause, visible)


def _param_condition(
    resource_type: str, res: FromClause, clause: ParamClause
) -> ColumnElement[bool]:
    if clause.code == "_id":
        return res.c.id.in_([v.code for v in clause.values if isinstance(v, qv.TokenValue)])
    if clause.code == "_lastUpdated":
        if clause.missing is not None:
            return false() if clause.missing else true()
        dates = [v for v in clause.values if isinstance(v, qv.DateValue)]
        return or_(*(instant_condition(res.c.last_updated, v) for v in dates))
    table = alias_of(INDEX_TABLES["quantity" if clause.type == "number" else clause.type])
    rows = (
        select(1)
        .select_from(table)
        .where(
            table.c.resource_type == resource_type,
            param_is(table, resource_type, clause.code),
            table.c.resource_id == res.c.id,
        )
        .correlate(res)
    )
    if clause.missing is not None:
        return not_(exists(rows)) if clause.missing else exists(rows)
    matching = exists(rows.where(or_(*(_value_condition(table, clause, v) for v in clause.values))))
    return not_(matching) if clause.modifier == "not" else matching


def _value_condition(
    table: FromClause, clause: ParamClause, value: qv.Value
) -> ColumnElement[bool]:
    match value:
        case qv.StringValue() if clause.type == "token":
            return token_text_condition(table, value)
        case qv.StringValue():
            return string_condition(table, clause.modifier, value)
        case qv.TokenValue() if clause.type == "reference":
            return identifier_condition(table, value)
        case qv.TokenValue():
            return token_condition(table, value)
        case qv.ReferenceValue():
            return reference_condition(table, value)
        case qv.DateValue():
            return date_condition(table.c.low, table.c.high, value)
        case qv.NumberValue():
            return number_condition(table, value)
        case qv.UriValue():
            return uri_condition(table, clause.modifier, value)


def _chain_condition(
    resource_type: str, res: FromClause, clause: ChainClause, visible: RowFilter | None
) -> ColumnElement[bool]:
    ref = alias_of(search_reference)
    target = alias_of(resource)
    per_type = [
        and_(
            target.c.resource_type == target_type,
            clause_condition(target_type, target, inner, visible),
        )
        for target_type, inner in clause.inner
    ]
    rows = (
        select(1)
        .select_from(ref)
        .join(
            target,
            and_(target.c.resource_type == ref.c.target_type, target.c.id == ref.c.target_id),
        )
        .where(
            ref.c.resource_type == resource_type,
            param_is(ref, resource_type, clause.code),
            ref.c.resource_id == res.c.id,
            target.c.deleted == false(),
            or_(*per_type),
            *([visible(target)] if visible is not None else []),
        )
        .correlate(res)
    )
    return exists(rows)


def _has_condition(
    resource_type: str, res: FromClause, clause: HasClause, visible: RowFilter | None
) -> ColumnElement[bool]:
    ref = alias_of(search_reference)
    source = alias_of(resource)
    rows = (
        select(1)
        .select_from(ref)
        .join(
            source,
            and_(source.c.resource_type == ref.c.resource_type, source.c.id == ref.c.resource_id),
        )
        .where(
            ref.c.resource_type == clause.source_type,
            param_is(ref, clause.source_type, clause.ref_param),
            ref.c.target_type == resource_type,
            ref.c.target_id == res.c.id,
            source.c.deleted == false(),
            clause_condition(clause.source_type, source, clause.inner, visible),
            *([visible(source)] if visible is not None else []),
        )
        .correlate(res)
    )
    return exists(rows)


def order_by(
    resource_type: str, res: FromClause, keys: list[SortKey], dialect: str
) -> list[ColumnElement[Any]]:
    terms: list[ColumnElement[Any]] = []
    for key in keys:
        expr = _sort_expression(resource_type, res, key, dialect)
        terms.append((expr.desc() if key.descending else expr.asc()).nulls_last())
    terms.append(_binary(res.c.id, dialect).asc())
    return terms


def _binary(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """Byte-wise string order, as SQLite has by default, instead of the locale's."""
    return collate(expr, "C") if dialect == "postgresql" else expr


def _sort_expression(
    resource_type: str, res: FromClause, key: SortKey, dialect: str
) -> ColumnElement[Any]:
    if key.code == "_id":
        return _binary(res.c.id, dialect)
    if key.code == "_lastUpdated":
        return res.c.last_updated
    table = alias_of(INDEX_TABLES["quantity" if key.type == "number" else key.type])
    column = _sort_column(table, key, dialect)
    aggregate = func.max(column) if key.descending else func.min(column)
    return (
        select(aggregate)
        .where(
            table.c.resource_type == resource_type,
            param_is(table, resource_type, key.code),
            table.c.resource_id == res.c.id,
        )
        .correlate(res)
        .scalar_subquery()
    )


def _sort_column(table: FromClause, key: SortKey, dialect: str) -> ColumnElement[Any]:
    c = table.c
    if key.type in ("date", "quantity", "number"):
        return c.high if key.descending else c.low
    if key.type == "token":
        return _binary(c.code, dialect)
    if key.type == "reference":
        local = c.target_type.concat("/").concat(c.target_id)
        return _binary(func.coalesce(local, c.url, type_=String), dialect)
    return _binary(c.value, dialect)
