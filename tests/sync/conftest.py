"""Fixtures the sync tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .medplum import MedplumPeer


@pytest.fixture(scope="module")
def medplum() -> Iterator[MedplumPeer]:
    """The provider's EHR: a real FHIR server (Medplum's fhir-router), one per module."""
    with MedplumPeer() as peer:
        yield peer
