"""Settings. Every setting has a default that works with the embedded PostgreSQL."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "tonari"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TONARI_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. When unset, Tonari starts an embedded server in data_dir.",
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    db_pool_size: int = 10
    db_max_overflow: int = 10
    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 8
    webhook_retry_base_seconds: float = Field(
        default=60.0, description="Wait after the first failure; doubles after each next one."
    )
    webhook_retry_max_seconds: float = Field(
        default=6 * 3600.0, description="The longest wait between two attempts."
    )
    webhook_lease_seconds: float = Field(
        default=60.0,
        description="How long a claimed delivery is reserved for the worker sending it; a "
        "worker that dies mid-send is retried after this. Kept above the HTTP timeout.",
    )
    webhook_allow_private_addresses: bool = Field(
        default=False,
        description="Let webhooks go to loopback and private networks (development only: a "
        "tenant could otherwise make the worker call internal services).",
    )
    webhook_batch_size: int = 50
    webhook_concurrency: int = Field(default=10, description="Parallel requests per worker.")
    worker_concurrency: int = Field(default=4, description="Jobs one worker runs at once.")
    worker_tick_seconds: int = Field(
        default=5, ge=1, le=59, description="How often periodic work (webhooks, ledger) runs."
    )
    messaging_secret: str = Field(
        default="tonari-embedded-messaging-secret-change-me",
        description="Signs unsubscribe, tracking and magic links. The default only suits a "
        "local embedded install: set your own long random value before sending real mail, or "
        "anyone can forge links.",
    )
    panel_secret: str | None = Field(
        default=None,
        description="Signs the merchant panel's session cookie; unset = messaging_secret. Set "
        "your own long random value on any install others can reach, or sessions can be forged.",
    )
    panel_session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="How long a panel sign-in lasts."
    )
    public_url: str | None = Field(
        default=None,
        description="Where customers reach this Tonari (unsubscribe, tracking and magic links "
        "in messages); unset = http://host:port.",
    )
    messaging_lease_seconds: float = Field(
        default=300.0,
        description="How long the dispatcher reserves a claimed message; a worker killed "
        "mid-send has its messages taken again after this. Keep it above an SMTP send.",
    )
    messaging_max_attempts: int = Field(default=5, ge=1, le=50)
    messaging_concurrency: int = Field(
        default=8, ge=1, le=64, description="Parallel send lanes (SMTP connections) per worker."
    )
    log_level: str = "info"


@lru_cache
def get_settings() -> Settings:
    return Settings()
