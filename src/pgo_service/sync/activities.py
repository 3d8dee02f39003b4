"""Which agreement each activity of a provider's CarePlan becomes (pure functions).

The merge splits a provider CarePlan with several activities into one agreement per
activity; each agreement holds a source value: the provider's id for the first,
``{id}#2``, ``{id}#3``, … for the others. While the CarePlan keeps as many activities
as it had agreements here, the n-th activity stays the n-th agreement (an edit changes
an agreement, not which one it is). When activities are added or dropped, each
activity goes to the agreement whose activity it matches (the element id, else the
reference, else code and description), in order; those between two matches that
changed pair up in order; an activity left over gets a new value, and an agreement no
activity went to is ended by the merge, as one deleted at the source.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def split_value(remote_id: str, position: int) -> str:
    """The source value of the activity at ``position`` (0-based) of a CarePlan."""
    return remote_id if position == 0 else f"{remote_id}#{position + 1}"


def position_of(remote_id: str, value: str) -> int | None:
    """The 0-based position a source value of this CarePlan stands for."""
    if value == remote_id:
        return 0
    prefix = f"{remote_id}#"
    if value.startswith(prefix) and value[len(prefix) :].isdigit():
        return int(value[len(prefix) :]) - 1
    return None


def activity_key(activity: Mapping[str, Any]) -> str | None:
    """What identifies an activity across versions of its CarePlan, when anything does."""
    element_id = activity.get("id")
    if isinstance(element_id, str) and element_id:
        return f"id:{element_id}"
    reference = activity.get("reference")
    if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
        return f"reference:{reference['reference']}"
    detail = activity.get("detail")
    if isinstance(detail, dict) and (detail.get("code") or detail.get("description")):
        return "detail:" + json.dumps(
            [detail.get("code"), detail.get("description")], sort_keys=True
        )
    return None


def _anchors(old: Sequence[str | None], new: Sequence[str | None]) -> list[tuple[int, int]]:
    """The longest common subsequence of two key lists, as index pairs (no key: no match)."""
    rows, cols = len(old), len(new)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            if old[i] is not None and old[i] == new[j]:
                table[i][j] = table[i + 1][j + 1] + 1
            else:
                table[i][j] = max(table[i + 1][j], table[i][j + 1])
    pairs, i, j = [], 0, 0
    while i < rows and j < cols:
        if old[i] is not None and old[i] == new[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def assign_values(
    remote_id: str,
    activities: Sequence[Mapping[str, Any]],
    live: Mapping[str, Mapping[str, Any] | None],
    known: Sequence[str],
) -> list[str]:
    """The source value of each activity, in order.

    ``live``: this CarePlan's agreements here that are not ended, by source value, with
    the activity each holds (``None`` when it cannot be read); ``known``: every source
    value this CarePlan ever had here, ended ones included (not given to another
    activity, except positionally while the count is unchanged).

    Activities that match (``activity_key``) keep their agreement, in order; between
    two such anchors, the activities that changed pair up with the agreements there in
    order, and what is left over is new (a new value) or dropped (not in the result)."""
    count = len(activities)
    if not live or len(live) == count:
        return [split_value(remote_id, n) for n in range(count)]
    old = sorted(live, key=lambda v: position_of(remote_id, v) or 0)
    old_keys = [activity_key(held) if (held := live[v]) else None for v in old]
    new_keys = [activity_key(a) for a in activities]
    result: list[str | None] = [None] * count
    previous = (-1, -1)
    for anchor in [*_anchors(old_keys, new_keys), (len(old), count)]:
        gap_old = range(previous[0] + 1, anchor[0])
        gap_new = range(previous[1] + 1, anchor[1])
        for i, j in zip(gap_old, gap_new, strict=False):
            result[j] = old[i]
        if anchor[1] < count:
            result[anchor[1]] = old[anchor[0]]
        previous = anchor
    used = {position_of(remote_id, v) for v in known} | {0}
    fresh = max(p for p in used if p is not None) + 1
    values = []
    for value in result:
        if value is None:
            value, fresh = split_value(remote_id, fresh), fresh + 1
        values.append(value)
    return values
