"""The bad-input suite's one check: a command refuses with exit 2, one line, and leaves nothing behind.

Every command's bad inputs go through :func:`assert_refuses`; faults (disk full, interruption)
through :func:`assert_leaves_nothing`. Both compare a snapshot of the folders the command may write
into before and after the run: no file appears, none changes.
"""

from __future__ import annotations

import errno
import hashlib
import warnings
from collections.abc import Iterable
from pathlib import Path

import mrcfile
import numpy as np
from typer.testing import CliRunner

from cryomem.cli import app


def snapshot(folders: Iterable[Path]) -> dict[Path, str]:
    """Every file under ``folders`` with a hash of its content."""
    files: dict[Path, str] = {}
    for folder in folders:
        folder = Path(folder)
        paths = [folder] if folder.is_file() else folder.rglob("*") if folder.is_dir() else []
        for path in paths:
            if path.is_file():
                files[path] = hashlib.sha1(path.read_bytes()).hexdigest()
    return files


def run_cli(args: list[str]):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_refuses(args: list, message: str, watch: Iterable[Path], *, exit_code: int = 2) -> str:
    """Run ``cryomem <args>``: exit ``exit_code``, one line containing ``message``, no file added or changed."""
    watch = list(watch)
    before = snapshot(watch)
    result = run_cli(args)
    text = " ".join(result.output.split())
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output, result.output
    assert len([line for line in result.output.strip().splitlines() if line.strip()]) <= 2, result.output
    assert message.lower() in text.lower(), result.output
    after = snapshot(watch)
    assert after == before, f"files changed: {sorted(set(after.items()) ^ set(before.items()))}"
    return text


def assert_leaves_nothing(args: list, watch: Iterable[Path]) -> str:
    """Run ``cryomem <args>`` under a fault: non-zero exit, no traceback, no file added or changed."""
    watch = list(watch)
    before = snapshot(watch)
    result = run_cli(args)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output, result.output
    after = snapshot(watch)
    assert after == before, f"files changed: {sorted(set(after.items()) ^ set(before.items()))}"
    return " ".join(result.output.split())


def write_raw_mrc(path: Path, data, voxel_ang: float, origin_xyz_ang=(0.0, 0.0, 0.0)) -> Path:
    """Write ``data`` as it is, NaN and odd types included (our writer would refuse or convert them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mrcfile warns about NaN header statistics
        with mrcfile.new(path, overwrite=True) as mrc:
            mrc.set_data(np.asarray(data))
            mrc.voxel_size = voxel_ang
            mrc.header.origin.x, mrc.header.origin.y, mrc.header.origin.z = origin_xyz_ang
    return path


def disk_full(*_args, **_kwargs):
    """Stand-in for a writer when the disk is full."""
    raise OSError(errno.ENOSPC, "No space left on device")


def interrupted(*_args, **_kwargs):
    """Stand-in for a step that the user stops with Ctrl-C."""
    raise KeyboardInterrupt
