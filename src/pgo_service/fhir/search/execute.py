"""Running a parsed search: one statement for the page of matches, one for the
total (when it cannot be read off the page) and one per include level.

A small planner picks how the page query starts. Each plain parameter clause is
estimated with a count capped at ``DRIVER_CAP`` over its value index (a few index
entries at most); the most selective one under the cap drives the query (its ids
first, the other clauses tested per id). When every clause is dense, the query walks
the resources in order, tests the clauses per resource and stops at the page size, so
a common token such as ``status=active`` costs the page, not the table. The total is
counted when that is bounded (a driver under the cap) or asked for (``_total=accurate``,
``_summary=count``); otherwise it is left out, as the spec allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from pgo_service.fhir.search.aliases import numbered
from pgo_service.fhir.search.query import (
    Clause,
    IncludeSpec,
    ParamClause,
    SearchQuery,
    parse_filters,
)
from pgo_service.fhir.search.sql import (
    count_select,
    driving_select,
    match_select,
    walk_select,
    walkable,
)
from pgo_service.fhir.search.sql_include import Frontier, include_select
from pgo_service.fhir.visibility import RowFilter

MAX_ITERATE_DEPTH = 3


@dataclass
class Found:
    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    content: bytes
    patient_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.resource_type, self.id


@dataclass
class SearchResult:
    matches: list[Found]
    includes: list[Found]
    total: int | None
    has_more: bool = False


@dataclass(frozen=True)
class _Plan:
    driver: ParamClause | None
    bounded: bool  # the driver selects fewer than DRIVER_CAP ids


def run_search(
    conn: Connection, query: SearchQuery, visible: RowFilter | None = None
) -> SearchResult:
    """``visible`` restricts every statement to the rows the caller may see."""
    with numbered():
        return _run_search(conn, query, visible)


def _run_search(conn: Connection, query: SearchQuery, visible: RowFilter | None) -> SearchResult:
    only_count = query.summary == "count" or query.count == 0
    plan = _plan(conn, query.resource_type, query.clauses)
    matches: list[Found] = []
    has_more = False
    if not only_count:
        dialect = conn.dialect.name
        walk = _walk(query, plan)
        if walk is not None:
            stmt = walk_select(query, walk, dialect, extra=1, visible=visible)
        else:
            stmt = match_select(query, dialect, driver=plan.driver, extra=1, visible=visible)
        matches = _found(conn.execute(stmt))
        has_more = len(matches) > query.count
        matches = matches[: query.count]
    total = _total(conn, query, plan, matches, only_count, has_more, visible)
    includes = [] if only_count else _includes(conn, query.includes, matches, visible)
    return SearchResult(matches, includes, total, has_more)


def find_matches(
    conn: Connection,
    resource_type: str,
    params: list[tuple[str, str]],
    limit: int = 2,
    visible: RowFilter | None = None,
) -> list[Found]:
    """Matches for conditional interactions; result-control parameters are ignored."""
    query = SearchQuery(resource_type, clauses=parse_filters(resource_type, params), count=limit)
    with numbered():
        plan = _plan(conn, resource_type, query.clauses)
        stmt = match_select(query, conn.dialect.name, driver=plan.driver, visible=visible)
        return _found(conn.execute(stmt))


DRIVER_CAP = 500
_MAX_ESTIMATES = 6


def _plan(conn: Connection, resource_type: str, clauses: list[Clause]) -> _Plan:
    if any(isinstance(c, ParamClause) and c.code == "_id" for c in clauses):
        return _Plan(None, True)  # primary-key lookups already
    candidates = [
        (clause, driving)
        for clause in clauses[:_MAX_ESTIMATES]
        if (driving := driving_select(resource_type, clause)) is not None
    ]
    if not candidates:
        return _Plan(None, False)
    # All the estimates in one statement: each one of its own costs more to build and
    # run than to count.
    counts = conn.execute(
        select(
            *(
                select(func.count())
                .select_from(driving.limit(DRIVER_CAP).subquery())
                .scalar_subquery()
                for _, driving in candidates
            )
        )
    ).one()
    best: ParamClause | None = None
    best_count = DRIVER_CAP
    for (clause, _), count in zip(candidates, counts, strict=True):
        if count < best_count:
            assert isinstance(clause, ParamClause)
            best, best_count = clause, count
    return _Plan(best, best is not None)


def _walk(query: SearchQuery, plan: _Plan) -> ParamClause | None:
    """A clause to read the page along when no clause selects few enough resources to
    start from (``_plan``) and the page is in id order."""
    if plan.driver is not None or plan.bounded or query.sort:
        return None
    for clause in query.clauses:
        if walkable(query.resource_type, clause):
            assert isinstance(clause, ParamClause)
            return clause
    return None


def _total(
    conn: Connection,
    query: SearchQuery,
    plan: _Plan,
    matches: list[Found],
    only_count: bool,
    has_more: bool,
    visible: RowFilter | None,
) -> int | None:
    if query.total == "none" and not only_count:
        return None
    if not only_count and not has_more and (matches or query.offset == 0):
        return query.offset + len(matches)
    if not (only_count or query.total == "accurate" or plan.bounded or not query.clauses):
        return None
    stmt = count_select(query.resource_type, query.clauses, plan.driver, visible)
    return int(conn.execute(stmt).scalar_one())


def _includes(
    conn: Connection, specs: list[IncludeSpec], matches: list[Found], visible: RowFilter | None
) -> list[Found]:
    seen = {found.key for found in matches}
    included: list[Found] = []
    frontier = matches
    for depth in range(MAX_ITERATE_DEPTH + 1):
        level = [spec for spec in specs if depth == 0 or spec.iterate]
        stmt = include_select(level, _frontier(frontier), visible) if level and frontier else None
        if stmt is None:
            break
        frontier = [found for found in _found(conn.execute(stmt)) if found.key not in seen]
        seen.update(found.key for found in frontier)
        included.extend(frontier)
    return included


def _frontier(found: Iterable[Found]) -> Frontier:
    by_type: Frontier = {}
    for item in found:
        by_type.setdefault(item.resource_type, []).append(item.id)
    return by_type


def _found(rows: Iterable[Sequence[Any]]) -> list[Found]:
    return [Found(r[0], r[1], r[2], r[3], bytes(r[4]), r[5]) for r in rows]
