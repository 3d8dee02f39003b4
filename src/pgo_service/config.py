"""Settings, read from the environment with the prefix ``PGO_``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PGO_", extra="ignore")

    data_dir: Path = Field(default=Path("data"))
    database_url: str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    default_page_size: int = 20
    max_page_size: int = 1000
    base_url: str | None = None

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pgo.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
