"""Parameters that are parts of another parameter of the same resource type.

R4 defines several parameters over a part of what another one covers: Patient
``family`` and ``given`` are parts of ``name``, ``phone`` and ``email`` of
``telecom``, ``address-city`` of ``address``, CarePlan ``patient`` is the ``subject``
that is a Patient, and ``phonetic`` has the very expression of ``name``. Storing the
whole as well as its parts writes each such value twice. So the rows of a whole
hold only what none of its parts holds, and a search on the whole reads its own
rows and those of its parts (``searched_params``). The union is exactly the whole's
entries because a part's expression selects a subset of the whole's nodes and
converts them the same way (tested for every pair the registry yields).
"""

from __future__ import annotations

import re
from functools import cache
from operator import attrgetter

from .index import ENTRY_TYPES, IndexEntry
from .params import SearchParam, search_params

# A part's expression is the whole's followed by one element or by one filter.
_RESTRICTION = re.compile(r"\.(?:[A-Za-z]+|where\([^|]*\))")


def _is_part(part: SearchParam, whole: SearchParam) -> bool:
    if part.type != whole.type or not part.expression or not whole.expression:
        return False
    if "|" in whole.expression:
        return False
    if part.expression == whole.expression:
        return part.code < whole.code  # the same values: one of the two holds them
    rest = part.expression[len(whole.expression) :]
    return part.expression.startswith(whole.expression) and _RESTRICTION.fullmatch(rest) is not None


@cache
def parts(resource_type: str) -> dict[str, tuple[str, ...]]:
    """The parts of each whole parameter of the type, by the whole's code."""
    params = search_params(resource_type)
    found: dict[str, tuple[str, ...]] = {}
    for whole in params.values():
        own = tuple(p.code for p in params.values() if p.code != whole.code and _is_part(p, whole))
        if own:
            found[whole.code] = own
    return found


@cache
def searched_params(resource_type: str, code: str) -> tuple[str, ...]:
    """The parameters whose index rows together hold the entries of ``code``."""
    found = [code]
    for part in parts(resource_type).get(code, ()):
        found.extend(p for p in searched_params(resource_type, part) if p not in found)
    return tuple(found)


@cache
def _wholes_of(resource_type: str) -> dict[str, tuple[str, ...]]:
    """The wholes each part belongs to, by the part's code."""
    found: dict[str, list[str]] = {}
    for whole, own in parts(resource_type).items():
        for part in own:
            found.setdefault(part, []).append(whole)
    return {part: tuple(wholes) for part, wholes in found.items()}


def clear() -> None:
    parts.cache_clear()
    searched_params.cache_clear()
    _wholes_of.cache_clear()


# What an entry holds besides its parameter, by entry class.
_VALUES = {kind: attrgetter(*kind.__slots__[1:]) for kind in ENTRY_TYPES}


def without_parts(resource_type: str, entries: list[IndexEntry]) -> list[IndexEntry]:
    """``entries`` less those of a whole that one of its parts holds as well."""
    wholes_of = _wholes_of(resource_type)
    if not wholes_of:
        return entries
    held: set[tuple[str, object]] = set()
    for entry in entries:
        wholes = wholes_of.get(entry.param)
        if wholes is not None:
            values = _VALUES[type(entry)](entry)
            held.update((whole, values) for whole in wholes)
    if not held:
        return entries
    whole_codes = parts(resource_type)
    return [
        e
        for e in entries
        if e.param not in whole_codes or (e.param, _VALUES[type(e)](e)) not in held
    ]
