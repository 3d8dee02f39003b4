"""The key generated for a data directory is one key, private from its first byte,
however many processes of the service start at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pgo_service import config

_READ_KEY = """
import sys, time
from pathlib import Path

import pytest

from pgo_service import config
from pgo_service.config import Settings
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
print(Settings(data_dir=Path(sys.argv[1]), secret_key=None).resolved_secret_key())
"""


def test_processes_starting_together_share_one_private_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    go = tmp_path / "go"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", _READ_KEY, str(data), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    go.touch()
    keys = {reader.communicate(timeout=60)[0].strip() for reader in readers}
    assert len(keys) == 1
    key = keys.pop()
    assert len(key) >= 40
    assert (data / "secret.key").read_text() == key
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in data.iterdir()] == ["secret.key"]


def test_a_key_written_meanwhile_by_another_process_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"

    def raced_by_another_process(_size: int) -> str:
        (data / "secret.key").write_text("the-key-of-the-process-that-was-first")
        return "the-key-of-this-process"

    monkeypatch.setattr(config.secrets, "token_urlsafe", raced_by_another_process)
    key = config.Settings(data_dir=data, secret_key=None).resolved_secret_key()
    assert key == "the-key-of-the-process-that-was-first"
    assert [p.name for p in data.iterdir()] == ["secret.key"]
