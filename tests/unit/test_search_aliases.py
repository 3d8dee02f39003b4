"""The aliases a search takes: distinct within it, the same objects from one search to
the next, new ones outside a search."""

from __future__ import annotations

from pgo_service.db.models import resource, search_reference, search_token
from pgo_service.fhir.search.aliases import alias_of, numbered


def test_one_search_never_gets_the_same_alias_twice() -> None:
    with numbered():
        taken = [alias_of(search_token) for _ in range(40)] + [alias_of(resource)]
    assert len({id(a) for a in taken}) == len(taken)
    names = [a.name for a in taken]
    assert len(set(names)) == len(names)


def test_the_next_search_gets_the_same_aliases_again() -> None:
    with numbered():
        first = [alias_of(search_reference), alias_of(search_reference), alias_of(resource)]
    with numbered():
        again = [alias_of(search_reference), alias_of(search_reference), alias_of(resource)]
    assert all(a is b for a, b in zip(first, again, strict=True))


def test_outside_a_search_every_alias_is_new() -> None:
    assert alias_of(search_token) is not alias_of(search_token)


def test_searches_nested_in_one_another_number_their_own() -> None:
    with numbered():
        outer = alias_of(search_token)
        with numbered():
            inner = alias_of(search_token)
        after = alias_of(search_token)
    assert inner is outer  # a statement of its own, built and run inside the other
    assert after is not outer
