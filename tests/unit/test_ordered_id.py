from __future__ import annotations

import time
import uuid

from pgo_service.fhir.store import ordered_id


def test_ids_are_uuid7_and_ordered_by_time() -> None:
    earlier = [ordered_id() for _ in range(1000)]
    time.sleep(0.002)
    later = ordered_id()
    parsed = [uuid.UUID(i) for i in (*earlier, later)]
    assert {p.version for p in parsed} == {7}
    assert {p.variant for p in parsed} == {uuid.RFC_4122}
    assert len(set(earlier)) == len(earlier)
    assert max(earlier) < later
    millis = uuid.UUID(later).int >> 80
    assert abs(millis - time.time() * 1000) < 5000
