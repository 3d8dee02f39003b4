"""Settings, read from the environment with the prefix ``PGO_``."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PROVIDER_NAME = "pgo-service"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PGO_", extra="ignore")

    data_dir: Path = Field(default=Path("data"))
    database_url: str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    default_page_size: int = 20
    max_page_size: int = 1000
    base_url: str | None = None
    secret_key: str | None = None  # encrypts TOTP secrets at rest
    dev_mode: bool = False  # allows http loopback redirect URIs and non-Secure cookies
    # Hosts the sync may call besides those in the registry's allow list, separated by
    # commas or spaces.
    sync_allowed_hosts: str = ""
    sync_max_attempts: int = 10  # then a job is dead (dead-letter), visible in sync status
    sync_lease_seconds: float = 120.0  # a claimed job whose worker is silent this long is retried
    sync_backoff_base_seconds: float = 5.0  # exponential backoff with full jitter ...
    sync_backoff_cap_seconds: float = 3600.0  # ... up to this
    sync_retry_after_cap_seconds: float = 86400.0  # the longest Retry-After honoured
    sync_http_timeout_seconds: float = 10.0  # connect, read, write and pool, each
    sync_poll_seconds: float = 1.0  # how often an idle worker looks for work
    sync_in_process_worker: bool = True  # on SQLite, `serve` runs the worker in its process
    # This service's name in MedMij-style scopes (<provider name>~<data service>).
    provider_name: str = DEFAULT_PROVIDER_NAME
    # The service as OAuth client of providers (MedMij's DVP side): its client id (the
    # hostname on MedMij's OAuth client list) and the callback providers send the
    # browser back to (https://<that host>/sync/callback).
    sync_client_id: str | None = None
    sync_redirect_uri: str | None = None
    sync_connect_seconds: float = 600.0  # how long a client has to answer at the provider
    # Who writes the audit trail: a child process of the server ("process"), or a
    # thread of it ("thread": no extra process, at the cost of the requests' latency).
    audit_writer: Literal["process", "thread"] = "process"
    # On SQLite, a request on one resource (create, or read, vread, update, patch or
    # delete by id; a body of up to 16 kB) runs on the server's event loop instead of
    # its thread pool: it holds the interpreter a few milliseconds, and in a thread that
    # competes with the loop for the interpreter it costs about half as much again.
    # Searches, histories, Bundles, operations and larger bodies, whose cost has no such
    # bound, stay in the pool, as every request does on PostgreSQL, where a thread lets
    # the others run while it waits for the database's answers.
    single_resource_on_loop: bool = True
    # HTTP server processes `serve` starts (`--workers`); each runs the whole API on
    # the one database, so the service uses more than one core.
    workers: int = Field(default=1, ge=1, le=64)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pgo.sqlite3').resolve()}"

    def resolved_secret_key(self) -> str:
        """``PGO_SECRET_KEY``, or a key generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written under a temporary name, readable by the owner only from the
            # start, and linked into place only if no other process got there first:
            # every process of the service reads the same, complete key.
            scratch = path.with_name(f".secret.key.{secrets.token_hex(8)}")
            descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_urlsafe(32))
            try:
                os.link(scratch, path)
            except FileExistsError:
                pass
            finally:
                scratch.unlink()
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
