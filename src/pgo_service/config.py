"""Settings, read from the environment with the prefix ``PGO_``."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

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
    # This service's name in MedMij-style scopes (<provider name>~<data service>).
    provider_name: str = DEFAULT_PROVIDER_NAME

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
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
