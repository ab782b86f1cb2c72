"""The run manifest: what finished, from which inputs and settings, and what failed and why.

``<run>/manifest.json`` (written atomically) holds per tomogram and stage a record::

    {"status": "done" | "failed" | "skipped", "settings_hash": "...", "inputs": {role: fingerprint},
     "upstream": token of the record this stage read, "token": "...", "outputs": [...],
     "summary": {...}, "error": "...", "seconds": 1.2, "worker": "...", "finished": "..."}

A stage is up to date when its record is ``done``, its settings hash and input fingerprints are
unchanged, it read the current record of the stage before (same token) and its outputs exist.
Input fingerprints are content hashes for small files (models) and size + modification time for
large ones (tomograms), so copying a model elsewhere does not re-run anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import cryomem
from cryomem.io import atomic_write_path, json_ready

__all__ = ["MANIFEST_FORMAT", "Manifest", "file_fingerprint"]

MANIFEST_FORMAT = "cryomem-run-manifest"
MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
_HASH_LIMIT_BYTES = 64 * 1024**2


def file_fingerprint(path: str | os.PathLike[str], *, content: bool = True) -> dict:
    """Identity of an input file: ``{"size", "sha256"}``, or ``{"size", "mtime_ns"}`` for files over
    64 MiB or with ``content=False`` (tomograms: hashing thousands of them would cost minutes).

    A folder (an OME-Zarr image) is identified by the number, total size and latest modification
    time of the files inside it.
    """
    path = Path(path)
    if path.is_dir():  # an OME-Zarr image: every file in it counts
        files = [entry.stat() for entry in path.rglob("*") if entry.is_file()]
        return {
            "files": len(files),
            "size": sum(s.st_size for s in files),
            "mtime_ns": max((s.st_mtime_ns for s in files), default=0),
        }
    stat = path.stat()
    if content and stat.st_size <= _HASH_LIMIT_BYTES:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return {"size": stat.st_size, "sha256": digest.hexdigest()}
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def new_token() -> str:
    return secrets.token_hex(8)


@dataclass
class Manifest:
    """The manifest of one run folder, kept in memory and saved atomically.

    Attributes
    ----------
    path : pathlib.Path
        ``<run>/manifest.json``.
    tomograms : dict
        ``name -> {"path", "voxel_size_ang", "shape_zyx", "origin_xyz_ang", "stages": {stage: record}}``.
    pooled : dict or None
        Record of the pooled statistics.
    config : dict
        The run configuration of the latest run.
    """

    path: Path
    tomograms: dict = field(default_factory=dict)
    pooled: dict | None = None
    config: dict = field(default_factory=dict)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
    _last_save: float = 0.0
    _save_seconds: float = 0.0

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str]) -> Manifest:
        """The manifest of ``run_dir``, or an empty one when the folder has none yet.

        Raises
        ------
        ValueError
            The file exists but is not a cryomem run manifest (or a newer format).
        """
        path = Path(run_dir) / MANIFEST_NAME
        if not path.is_file():
            return cls(path)
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not a readable run manifest ({err}); move it away to start afresh") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"{path} is not a cryomem run manifest; choose another --out folder")
        if data.get("format_version", 0) > MANIFEST_VERSION:
            raise ValueError(f"{path} was written by a newer cryomem; upgrade cryomem to continue this run")
        return cls(path, data.get("tomograms", {}), data.get("pooled"), data.get("config", {}),
                   data.get("created", time.strftime("%Y-%m-%dT%H:%M:%S")))  # fmt: skip

    def record(self, name: str, stage: str) -> dict | None:
        """The record of ``stage`` of tomogram ``name`` (None if never run)."""
        return self.tomograms.get(name, {}).get("stages", {}).get(stage)

    def set_record(self, name: str, stage: str, record: dict) -> None:
        self.tomograms.setdefault(name, {}).setdefault("stages", {})[stage] = record

    def is_fresh(self, name: str, stage: str, settings_hash: str, inputs: dict, upstream: str | None) -> bool:
        """Whether ``stage`` of ``name`` finished with these settings, inputs and upstream record."""
        record = self.record(name, stage)
        if not record or record.get("status") != "done":
            return False
        if record.get("settings_hash") != settings_hash or record.get("inputs") != inputs:
            return False
        if record.get("upstream") != upstream:
            return False
        root = self.path.parent / "tomograms" / name
        return all((root / out).exists() for out in record.get("outputs", []))

    def to_json(self) -> dict:
        return {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "cryomem_version": cryomem.__version__,
            "created": self.created,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "config": self.config,
            "tomograms": self.tomograms,
            "pooled": self.pooled,
        }

    def save(self, *, force: bool = True) -> None:
        """Write atomically; with ``force=False`` skip if the last write was recent relative to its cost.

        Manifests that write in under 50 ms are written after every finished task; for very large
        runs a write costs more, and is then done at most every 20 write durations (the final write
        is forced), so a crash loses at most those last records (their stages rerun).
        """
        now = time.perf_counter()
        if not force and self._save_seconds > 0.05 and now - self._last_save < 20.0 * self._save_seconds:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(json_ready(self.to_json()), indent=1, allow_nan=False, default=_json_default)
        with atomic_write_path(self.path) as tmp:
            tmp.write_text(text)
        self._last_save = time.perf_counter()
        self._save_seconds = self._last_save - now


def _json_default(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to the manifest")
