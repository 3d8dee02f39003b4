"""The pgo-service command, run as a user runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgo_service.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    return {**os.environ, "PGO_DATABASE_URL": url, "PGO_DATA_DIR": str(tmp_path / "data")}


def test_db_upgrade_and_current_from_any_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    env = _env(tmp_path, url)
    before = _cli("db", "current", env=env, cwd=tmp_path)
    assert before.returncode == 0
    assert before.stdout.startswith("empty")
    assert _cli("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    after = _cli("db", "current", env=env, cwd=tmp_path)
    assert "up to date" in after.stdout


def test_serve_migrates_and_answers(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in _env(tmp_path, "").items() if k != "PGO_DATABASE_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pgo_service.cli", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert ready.status_code == 200
        metadata = httpx.get(f"http://127.0.0.1:{port}/fhir/metadata").json()
        assert metadata["fhirVersion"] == "4.0.1"
        assert (tmp_path / "data" / "pgo.sqlite3").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
