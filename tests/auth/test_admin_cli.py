"""The admin subcommands, run as an operator runs them, from another directory."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]

OCL = """<?xml version="1.0" encoding="UTF-8"?>
<OAuthclientlist xmlns="xmlns://afsprakenstelsel.medmij.nl/oauthclientlist/release2/">
  <Tijdstempel>2026-11-01T12:00:00Z</Tijdstempel>
  <Volgnummer>{number}</Volgnummer>
  <OAuthclients>
    <OAuthclient>
      <Hostname>app.pgo.example</Hostname>
      <OAuthclientOrganisatienaam>{name}</OAuthclientOrganisatienaam>
    </OAuthclient>
  </OAuthclients>
</OAuthclientlist>
"""


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    env = {
        **os.environ,
        "PGO_DATABASE_URL": database_url,
        "PGO_SECRET_KEY": "cli-test-key",
        "PGO_NEW_USER_PASSWORD": "a long enough password",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pgo_service.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )

    return run


def test_clients_users_and_tokens(cli: Cli, tmp_path: Path) -> None:
    ocl = tmp_path / "ocl.xml"
    ocl.write_text(OCL.format(number=7, name="Voorbeeld PGO"))
    assert cli("clients", "import-ocl", str(ocl)).returncode == 0
    ocl.write_text(OCL.format(number=6, name="Oude naam"))
    older = cli("clients", "import-ocl", str(ocl))
    assert older.returncode == 2
    assert "older" in older.stderr
    ocl.write_text(OCL.format(number=7, name="Zelfde nummer"))
    same = cli("clients", "import-ocl", str(ocl))
    assert same.returncode == 2
    assert "Volgnummer 7) is the same as the one imported last" in same.stderr
    ocl.write_text(OCL.format(number=8, name="Kapot").replace("<Hostname>", "<Hostnaam>"))
    broken = cli("clients", "import-ocl", str(ocl))
    assert broken.returncode == 2
    assert broken.stderr.startswith("pgo-service: invalid OAuth client list:")

    added = cli(
        "clients", "add", "--client-id", "app.pgo.example", "--name", "Voorbeeld PGO",
        "--redirect-uri", "https://app.pgo.example/cb", "--scopes", "patient/*.rs", "--public",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    refused = cli(
        "clients", "add", "--client-id", "app.pgo.example", "--name", "X",
        "--redirect-uri", "https://evil.example/cb", "--scopes", "patient/*.rs", "--public",
    )  # fmt: skip
    assert refused.returncode == 2

    enrolment = tmp_path / "anna.totp"
    user = cli(
        "users", "add", "--login", "anna", "--patient", "anna",
        "--totp-uri-file", str(enrolment),
    )  # fmt: skip
    assert user.returncode == 0, user.stderr
    uri = enrolment.read_text().strip()
    assert uri.startswith("otpauth://totp/")
    assert stat.S_IMODE(enrolment.stat().st_mode) == 0o600
    assert uri not in user.stdout + user.stderr  # secrets never reach the output

    minted = tmp_path / "token"
    minted.write_text("old")
    minted.chmod(0o644)
    token = cli(
        "token", "--subject", "Patient/anna", "--client", "app.pgo.example",
        "--scope", "patient/CarePlan.rs", "--output", str(minted),
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    bearer = minted.read_text().strip()
    assert len(bearer) >= 40
    assert stat.S_IMODE(minted.stat().st_mode) == 0o600
    assert bearer not in token.stdout + token.stderr
    too_much = cli(
        "token", "--subject", "Patient/anna", "--client", "app.pgo.example",
        "--scope", "system/*.cruds", "--output", str(tmp_path / "refused"),
    )  # fmt: skip
    assert too_much.returncode == 2

    ocl.write_text(OCL.format(number=9, name="Ander").replace("app.pgo.example", "ander.example"))
    dropped = cli("clients", "import-ocl", str(ocl))
    assert dropped.returncode == 0, dropped.stderr
    assert "disabled (no longer on the list): app.pgo.example" in dropped.stdout
    disabled = cli(
        "token", "--subject", "Patient/anna", "--client", "app.pgo.example",
        "--scope", "patient/CarePlan.rs", "--output", str(tmp_path / "refused"),
    )  # fmt: skip
    assert disabled.returncode == 2
    assert "no longer on the client list" in disabled.stderr
