"""One run at a time per run folder: ``<run>/.lock`` holds the host and process id of the owner."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

__all__ = ["run_lock"]

LOCK_NAME = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold ``<run_dir>/.lock`` while the block runs; a lock left by a dead process is taken over.

    Raises
    ------
    ValueError
        Another live ``cryomem run`` (this host) holds the folder, or one on another host does.
    """
    path = Path(run_dir) / LOCK_NAME
    me = f"{socket.gethostname()} {os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            host, _, pid = path.read_text().strip().partition(" ")
            if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
                path.unlink(missing_ok=True)  # its owner died (killed run): take over
                continue
            raise ValueError(
                f"another cryomem run ({host}, process {pid}) is using {run_dir}; wait for it to finish, or "
                f"delete {path} if that run is gone"
            ) from None
        with os.fdopen(fd, "w") as handle:
            handle.write(me)
        break
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
