"""``pgo-service providers``, run as an operator runs it, from another directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .lists import service, whitelist, zal

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    env = {**os.environ, "PGO_DATABASE_URL": database_url, "PGO_SYNC_ALLOWED_HOSTS": ""}

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pgo_service.cli", *args],
            capture_output=True,
            text=True,
            env={**env, **extra_env},
            cwd=tmp_path,
            timeout=120,
        )

    return run


def test_import_list_and_allow(cli: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "zal.xml"
    listing.write_bytes(
        zal(3, {"thuiszorg@medmij": [service("61"), service("48", "https://plan.example")]})
    )
    imported = cli("providers", "import-zal", str(listing))
    assert imported.returncode == 0, imported.stderr
    assert "1 providers, 2 data services" in imported.stdout
    again = cli("providers", "import-zal", str(listing))
    assert again.returncode == 2
    assert "not newer" in again.stderr

    hosts = tmp_path / "whitelist.xml"
    hosts.write_bytes(whitelist(1, ["ehr.zorgaanbieder.example"]))
    assert cli("providers", "import-whitelist", str(hosts)).returncode == 0
    shown = cli("providers", "list")
    assert shown.returncode == 0, shown.stderr
    assert "data service 61: FHIR STU3 (default)" in shown.stdout
    assert "data service 48: FHIR R4 (default)" in shown.stdout
    assert "https://ehr.zorgaanbieder.example/fhir  [ZLP-1.0.0-FHIR]" in shown.stdout
    assert "https://plan.example/fhir  (not callable: host 'plan.example' is not on" in shown.stdout

    assert cli("providers", "set-fhir-version", "thuiszorg@medmij", "48", "STU3").returncode == 0
    assert cli("providers", "allow-host", "plan.example").returncode == 0
    shown = cli("providers", "list").stdout
    assert "data service 48: FHIR STU3 (stated)" in shown
    assert "not callable" not in shown
    listed = cli("providers", "hosts", PGO_SYNC_ALLOWED_HOSTS="extra.example").stdout
    assert listed.splitlines() == [
        "ehr.zorgaanbieder.example  (whitelist)",
        "extra.example  (PGO_SYNC_ALLOWED_HOSTS)",
        "plan.example  (operator)",
    ]
    assert cli("providers", "disallow-host", "plan.example").returncode == 0
    assert cli("providers", "disallow-host", "plan.example").returncode == 2


def test_loopback_endpoints_need_dev_mode(cli: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "zal.xml"
    listing.write_bytes(zal(1, {"lokaal@medmij": [service("48", "http://127.0.0.1:9")]}))
    refused = cli("providers", "import-zal", str(listing))
    assert refused.returncode == 2
    assert "plain http" in refused.stderr
    assert cli("providers", "import-zal", str(listing), PGO_DEV_MODE="true").returncode == 0


def test_revocation_endpoint(cli: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "zal.xml"
    listing.write_bytes(zal(1, {"thuiszorg@medmij": [service("48")]}))
    assert cli("providers", "import-zal", str(listing)).returncode == 0
    uri = "https://auth.thuiszorg.example/oauth/revoke"
    stated = cli("providers", "set-revocation-endpoint", "thuiszorg@medmij", "48", uri)
    assert stated.returncode == 0, stated.stderr
    assert f"revocation    {uri}  (not callable" in cli("providers", "list").stdout
    # kept across a newer list
    listing.write_bytes(zal(2, {"thuiszorg@medmij": [service("48")]}))
    assert cli("providers", "import-zal", str(listing)).returncode == 0
    assert "revocation" in cli("providers", "list").stdout
    refused = cli(
        "providers", "set-revocation-endpoint", "thuiszorg@medmij", "48", "http://x.example"
    )
    assert refused.returncode == 2 and "http" in refused.stderr
    assert (
        cli("providers", "set-revocation-endpoint", "thuiszorg@medmij", "48", "none").returncode
        == 0
    )
    assert "revocation" not in cli("providers", "list").stdout
