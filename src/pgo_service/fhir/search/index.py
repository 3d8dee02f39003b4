"""Typed index entries: what a resource contributes to the search index tables.

One entry is one row in the table named by its kind (see ``db.models.INDEX_TABLES``).
"""

from __future__ import annotations

from dataclasses import dataclass

# Parameters searched and sorted on the resource table's own columns: their entries are
# found like any other's but never stored as index rows.
ON_RESOURCE_TABLE = frozenset({"_id", "_lastUpdated"})


@dataclass(frozen=True, slots=True)
class StringEntry:
    param: str
    value: str  # normalised with normalize.normalize_string
    exact: str  # as written (truncated to the column size)

    kind = "string"


@dataclass(frozen=True, slots=True)
class TokenEntry:
    param: str
    system: str | None
    code: str | None
    text: str | None  # normalised display / text, for the :text modifier

    kind = "token"


@dataclass(frozen=True, slots=True)
class ReferenceEntry:
    param: str
    target_type: str | None  # for relative (and resolvable absolute) references
    target_id: str | None
    url: str | None  # absolute or canonical URL as written, if not local
    identifier_system: str | None  # Reference.identifier, for the :identifier modifier
    identifier_value: str | None

    kind = "reference"


@dataclass(frozen=True, slots=True)
class DateEntry:
    param: str
    low: int  # microseconds since the epoch, UTC, inclusive
    high: int  # inclusive

    kind = "date"


@dataclass(frozen=True, slots=True)
class QuantityEntry:
    param: str
    low: float
    high: float
    system: str | None
    code: str | None

    kind = "quantity"


@dataclass(frozen=True, slots=True)
class UriEntry:
    param: str
    value: str

    kind = "uri"


IndexEntry = StringEntry | TokenEntry | ReferenceEntry | DateEntry | QuantityEntry | UriEntry
ENTRY_TYPES = (StringEntry, TokenEntry, ReferenceEntry, DateEntry, QuantityEntry, UriEntry)
