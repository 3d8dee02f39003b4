"""What every interaction gets: the store bound to the request's transaction."""

from __future__ import annotations

from dataclasses import dataclass

from ..store import ResourceStore


@dataclass
class Context:
    store: ResourceStore
    default_page_size: int = 20
    max_page_size: int = 1000
