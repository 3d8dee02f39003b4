"""Which agreement each activity of a provider's CarePlan becomes across its versions."""

from __future__ import annotations

from typing import Any

from pgo_service.sync.activities import assign_values, position_of, split_value


def _a(text: str, **extra: Any) -> dict[str, Any]:
    return {"detail": {"description": text}, **extra}


LIVE = {"X": _a("wassen"), "X#2": _a("aankleden"), "X#3": _a("ontbijt")}


def test_values_by_position() -> None:
    assert [split_value("X", n) for n in range(3)] == ["X", "X#2", "X#3"]
    assert [position_of("X", v) for v in ("X", "X#2", "X#10", "Y#2", "X#a")] == [
        0,
        1,
        9,
        None,
        None,
    ]


def test_the_same_number_of_activities_keeps_positions_whatever_changed() -> None:
    changed = [_a("douchen"), _a("aankleden"), _a("lunch")]
    assert assign_values("X", changed, LIVE, list(LIVE)) == ["X", "X#2", "X#3"]
    assert assign_values("X", [_a("a"), _a("b")], {}, []) == ["X", "X#2"]


def test_a_dropped_activity_loses_its_value_and_a_changed_one_keeps_its_own() -> None:
    assert assign_values("X", [_a("aankleden"), _a("ontbijt")], LIVE, list(LIVE)) == [
        "X#2",
        "X#3",
    ]
    assert assign_values("X", [_a("aankleden"), _a("ontbijt en lunch")], LIVE, list(LIVE)) == [
        "X#2",
        "X#3",
    ]
    assert assign_values("X", [_a("wassen"), _a("ontbijt")], LIVE, list(LIVE)) == ["X", "X#3"]


def test_an_added_activity_gets_a_value_never_used_before() -> None:
    live = {"X#2": _a("aankleden"), "X#3": _a("ontbijt")}
    known = ["X", "X#2", "X#3"]  # X ended earlier
    values = assign_values("X", [_a("aankleden"), _a("nieuw"), _a("ontbijt")], live, known)
    assert values == ["X#2", "X#4", "X#3"]


def test_element_ids_and_references_identify_before_descriptions() -> None:
    live = {"X": _a("oud", id="act-1"), "X#2": _a("ook oud", id="act-2")}
    assert assign_values("X", [_a("nieuw", id="act-2")], live, list(live)) == ["X#2"]
    live = {
        "X": {"reference": {"reference": "ServiceRequest/1"}},
        "X#2": {"reference": {"reference": "ServiceRequest/2"}},
    }
    given = [{"reference": {"reference": "ServiceRequest/2"}}]
    assert assign_values("X", given, live, list(live)) == ["X#2"]
