"""Settings shared by the workers and the service (environment variables with the ``DOCSTN_`` prefix)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["WorkerSettings"]


class WorkerSettings(BaseSettings):
    """What a worker needs: where jobs live, the model, the broker and the limits of one task."""

    model_config = SettingsConfigDict(env_prefix="DOCSTN_", env_file=None, extra="ignore")

    model_dir: Path | None = Field(None, description="Checkpoint folder; None: models/default.")
    device: str = "cpu"
    redis_url: str | None = Field(None, description="Broker; None: jobs run inside the API process (embedded).")
    queue: str = "docstn"
    job_store: Path = Field(Path("data/jobs"), description="Folder holding job uploads and results.")
    job_ttl_s: int = Field(24 * 3600, ge=1, description="How long a finished job's results are kept.")
    chunk_size: int = Field(8, ge=1, le=256, description="Items per task (one batched forward pass).")
    max_batch: int = Field(8, ge=1, le=256)
    batch_wait_ms: float = Field(2.0, ge=0, le=1000)
    max_pixels: int = Field(50_000_000, ge=1)
    max_side: int = Field(4096, ge=16, le=16384, description="Cap on a crop side.")
    max_attempts: int = Field(3, ge=1, description="Deliveries of one item before it is marked failed.")
    task_soft_time_limit_s: float = Field(120, gt=0)
    task_time_limit_s: float = Field(150, gt=0)
    visibility_timeout_s: float = Field(300, gt=0, description="Redis redelivers unacked tasks after this.")
    webhook_timeout_s: float = Field(5, gt=0)
    backend: str = Field(
        "auto",
        pattern="^(auto|torch|torchscript|onnx)$",
        description="The net's runtime; auto: onnxruntime on CPU when installed, else torch (bench/README.md).",
    )
    torch_threads: int = Field(
        0, ge=0, description="torch.set_num_threads and onnxruntime threads per process; 0: the libraries' defaults."
    )

    @model_validator(mode="after")
    def _limits_are_ordered(self) -> WorkerSettings:
        if not self.task_soft_time_limit_s < self.task_time_limit_s < self.visibility_timeout_s:
            raise ValueError(
                "expected task_soft_time_limit_s < task_time_limit_s < visibility_timeout_s (a task still running "
                f"when its message becomes visible again would run twice), got {self.task_soft_time_limit_s}, "
                f"{self.task_time_limit_s}, {self.visibility_timeout_s}"
            )
        return self

    def engine_kwargs(self) -> dict:
        """Keyword arguments of :meth:`stn.inference.Engine.from_checkpoint`."""
        return {
            "device": self.device,
            "max_batch": self.max_batch,
            "batch_wait_ms": self.batch_wait_ms,
            "max_pixels": self.max_pixels,
            "max_side": self.max_side,
            "backend": self.backend,
            "threads": self.torch_threads,
        }
