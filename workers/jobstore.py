"""The job store: a folder per job holding its uploads, one result file per item and the crops.

Layout of ``<root>/<job id>/``::

    job.json            {"id", "created", "total", "filenames", "options", "webhook"}
    inputs/00007        the uploaded bytes of item 7
    results/00007.json  item 7's result (or its error): present = the item is finished
    crops/00007.png     item 7's crop (written before its result)
    attempts/00007      how many times item 7 was started
    finished            written once, when the last item finishes (its creator sends the webhook)

Every write is a write to a temporary file and an atomic rename, so a task delivered twice writes the same
files twice and a reader never sees half a file: results are neither duplicated nor lost.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["JobNotFoundError", "JobStore", "Progress"]

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class JobNotFoundError(KeyError):
    """No such job (never created, deleted, or expired)."""


@dataclass
class Progress:
    done: int
    failed: int
    total: int

    @property
    def finished(self) -> bool:
        return self.done + self.failed >= self.total


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class JobStore:
    """Jobs in a folder shared by the API and the workers (a volume in containers)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ jobs
    def dir(self, job_id: str) -> Path:
        """The job's folder; raises :class:`JobNotFoundError` for a malformed or unknown id."""
        if not _JOB_ID.match(job_id or ""):
            raise JobNotFoundError(job_id)
        d = self.root / job_id
        if not (d / "job.json").is_file():
            raise JobNotFoundError(job_id)
        return d

    def create(self, uploads: list[tuple[str, bytes]], *, options: dict, webhook: str | None = None) -> dict:
        """Store the uploads (filename, bytes) of a new job; return its job.json content."""
        job_id = uuid.uuid4().hex
        tmp = self.root / f".{job_id}.tmp"
        for sub in ("inputs", "results", "crops", "attempts"):
            (tmp / sub).mkdir(parents=True)
        for i, (_, data) in enumerate(uploads):
            (tmp / "inputs" / f"{i:05d}").write_bytes(data)
        meta = {
            "id": job_id,
            "created": time.time(),
            "total": len(uploads),
            "filenames": [name for name, _ in uploads],
            "options": options,
            "webhook": webhook,
        }
        (tmp / "job.json").write_text(json.dumps(meta))
        os.replace(tmp, self.root / job_id)  # the job appears whole or not at all
        return meta

    def meta(self, job_id: str) -> dict:
        try:
            return json.loads((self.dir(job_id) / "job.json").read_text())
        except FileNotFoundError:
            raise JobNotFoundError(job_id) from None

    def delete(self, job_id: str) -> None:
        d = self.dir(job_id)
        trash = self.root / f".{job_id}.{uuid.uuid4().hex}.deleted"
        os.replace(d, trash)  # readers see it gone at once
        shutil.rmtree(trash, ignore_errors=True)

    def exists(self, job_id: str) -> bool:
        try:
            self.dir(job_id)
            return True
        except JobNotFoundError:
            return False

    def job_ids(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if _JOB_ID.match(p.name) and (p / "job.json").is_file())

    # ------------------------------------------------------------------ items
    def input_bytes(self, job_id: str, index: int) -> bytes:
        return (self.dir(job_id) / "inputs" / f"{index:05d}").read_bytes()

    def result(self, job_id: str, index: int) -> dict | None:
        try:
            return json.loads((self.dir(job_id) / "results" / f"{index:05d}.json").read_text())
        except FileNotFoundError:
            return None

    def results(self, job_id: str) -> dict[int, dict]:
        d = self.dir(job_id) / "results"
        out = {}
        for p in d.glob("*.json"):
            try:
                out[int(p.stem)] = json.loads(p.read_text())
            except (FileNotFoundError, ValueError):
                continue
        return out

    def pending(self, job_id: str) -> list[int]:
        total = self.meta(job_id)["total"]
        done = {int(p.stem) for p in (self.dir(job_id) / "results").glob("*.json")}
        return [i for i in range(total) if i not in done]

    def start_attempt(self, job_id: str, index: int) -> int:
        """Count one more start of the item; return the count (1 for the first)."""
        path = self.dir(job_id) / "attempts" / f"{index:05d}"
        n = int(path.read_text() or 0) + 1 if path.exists() else 1
        _atomic_write(path, str(n).encode())
        return n

    def attempts(self, job_id: str, index: int) -> int:
        path = self.dir(job_id) / "attempts" / f"{index:05d}"
        return int(path.read_text() or 0) if path.exists() else 0

    def write_result(self, job_id: str, index: int, result: dict, crop: bytes | None = None, ext: str = "") -> None:
        """Store an item's crop (if any), then its result: the result file marks the item finished."""
        d = self.dir(job_id)
        if crop is not None:
            _atomic_write(d / "crops" / f"{index:05d}{ext}", crop)
            result = {**result, "crop_file": f"{index:05d}{ext}"}
        _atomic_write(d / "results" / f"{index:05d}.json", json.dumps(result).encode())

    def crop_path(self, job_id: str, index: int) -> Path | None:
        r = self.result(job_id, index)
        if not r or not r.get("crop_file"):
            return None
        p = self.dir(job_id) / "crops" / r["crop_file"]
        return p if p.is_file() else None

    def progress(self, job_id: str) -> Progress:
        results = self.results(job_id)
        failed = sum(1 for r in results.values() if "error" in r)
        return Progress(done=len(results) - failed, failed=failed, total=self.meta(job_id)["total"])

    # ------------------------------------------------------------------ completion and expiry
    def mark_finished(self, job_id: str) -> bool:
        """Record that the job finished; True only for the one caller that recorded it."""
        try:
            fd = os.open(self.dir(job_id) / "finished", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(str(time.time()))
        return True

    def finished_at(self, job_id: str) -> float | None:
        try:
            return float((self.dir(job_id) / "finished").read_text() or 0) or None
        except FileNotFoundError:
            return None

    def sweep(self, ttl_s: float, now: float | None = None) -> list[str]:
        """Delete jobs finished more than ``ttl_s`` ago (and leftovers of interrupted writes); return their ids."""
        now = time.time() if now is None else now
        gone = []
        for p in self.root.iterdir():
            if p.name.startswith(".") and (p.name.endswith(".deleted") or now - p.stat().st_mtime > 3600):
                shutil.rmtree(p, ignore_errors=True)
        for job_id in self.job_ids():
            try:
                t = self.finished_at(job_id)
                if t is not None and now - t > ttl_s:
                    self.delete(job_id)
                    gone.append(job_id)
            except (JobNotFoundError, FileNotFoundError):
                continue
        return gone
