"""The pgo-service command, run as a user runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_processes(parent: int) -> list[int]:
    """The processes uvicorn started to serve (not its resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise AssertionError("the server did not get ready")
        time.sleep(0.2)


def test_serve_with_several_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    env = _env(tmp_path, f"sqlite:///{tmp_path / 'multi.sqlite3'}")
    assert _cli("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    added = _cli(
        *("clients", "add", "--client-id", "ehr", "--name", "EHR", "--system"),
        *("--scopes", "system/*.cruds", "--hostname", "ehr.invalid"),
        *("--secret", "a-client-secret-of-sufficient-length-0123"),
        env=env,
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    token_file = tmp_path / "token"
    minted = _cli(
        *("token", "--subject", "Practitioner/ehr", "--client", "ehr"),
        *("--scope", "system/*.cruds", "--output", str(token_file)),
        env=env,
        cwd=tmp_path,
    )
    assert minted.returncode == 0, minted.stderr
    headers = {
        "Authorization": f"Bearer {token_file.read_text().strip()}",
        "Content-Type": "application/fhir+json",
    }
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "pgo_service.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(base, process)
        assert len(_server_processes(process.pid)) == 2

        def create(n: int, conditional: bool) -> int:
            patient = {"resourceType": "Patient", "name": [{"family": f"Proc{n}"}]}
            extra = {}
            if conditional:
                patient["identifier"] = [{"system": "urn:test:multi", "value": "one"}]
                extra = {"If-None-Exist": "identifier=urn:test:multi|one"}
            with httpx.Client(base_url=base, timeout=60) as http:
                return http.post(
                    "/fhir/Patient", json=patient, headers={**headers, **extra}
                ).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            conditional = list(pool.map(lambda n: create(n, True), range(20)))
            plain = list(pool.map(lambda n: create(n, False), range(40)))
        assert sorted(conditional) == [200] * 19 + [201]
        assert plain == [201] * 40
        with httpx.Client(base_url=base, timeout=60, headers=headers) as http:
            one = http.get("/fhir/Patient", params={"identifier": "urn:test:multi|one"})
            every = http.get("/fhir/Patient", params={"_summary": "count"})
        assert one.json()["total"] == 1
        assert every.json()["total"] == 41
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
