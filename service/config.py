"""The service's settings: one ``Settings`` read from ``DOCSTN_*`` environment variables."""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import Field

from workers.config import WorkerSettings

__all__ = ["Settings", "get_settings"]


class Settings(WorkerSettings):
    """Everything the API needs (the worker settings plus the HTTP limits).

    Embedded defaults: no Redis (jobs run in the API process), jobs in ./data/jobs, the default model.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    max_upload_bytes: int = Field(25 * 1024 * 1024, ge=1, description="Largest file accepted (413 above).")
    max_job_files: int = Field(1000, ge=1)
    max_job_bytes: int = Field(1024 * 1024 * 1024, ge=1, description="Largest POST /v1/jobs body (413 above).")
    api_keys: str = Field("", description="Comma-separated keys; empty: no authentication.")
    webhook_hosts: str = Field(
        "",
        description="Comma-separated hosts job webhooks may call (example.com; *.example.com for its subdomains); "
        "empty: any host.",
    )
    rate_limit_per_minute: int = Field(0, ge=0, description="Requests per key (or client address) a minute; 0: off.")
    embedded_threads: int = Field(1, ge=1, le=64, description="Job threads in the API when there is no Redis.")
    sweep_interval_s: float = Field(300, gt=0, description="How often expired jobs are deleted.")
    redis_timeout_s: float = Field(30, gt=0, description="Pre-start wait for Redis.")
    annotate_dir: Path | None = Field(
        Path("data/annotations"), description="Photos the /annotate page labels (manifest.jsonl beside them)."
    )

    @cached_property
    def api_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @cached_property
    def _webhook_allow(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.webhook_hosts.split(",") if h.strip())

    def webhook_host_allowed(self, host: str) -> bool:
        """Whether ``webhook_hosts`` lets a webhook call ``host`` (case-insensitive; ``*.x`` matches subdomains).

        >>> s = Settings(webhook_hosts="hooks.example.com, *.corp.test")
        >>> [s.webhook_host_allowed(h) for h in ("HOOKS.example.com", "a.corp.test", "corp.test", "evil.com")]
        [True, True, False, False]
        """
        allowed = self._webhook_allow
        host = host.lower()
        return not allowed or any(host.endswith(a[1:]) if a.startswith("*.") else host == a for a in allowed)


@lru_cache
def get_settings() -> Settings:
    return Settings()
