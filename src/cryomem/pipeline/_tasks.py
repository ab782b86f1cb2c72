"""The dask tasks of a run: one stage of one tomogram, or the pooled statistics.

A task never raises for a failing stage: it returns an outcome with a one-line error (and, for
unexpected errors, the end of the traceback), which the client records in the manifest.
"""

from __future__ import annotations

import errno
import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path

from cryomem.pipeline._settings import RunConfig
from cryomem.pipeline._stages import (
    TomogramFolders,
    instances_stage,
    morph_stage,
    pick_stage,
    pooled_stats_stage,
    segment_stage,
    stats_stage,
    surfaces_stage,
)
from cryomem.pipeline._tomograms import Tomogram

__all__ = ["STAGE_FUNCTIONS", "describe_error", "run_pooled_task", "run_stage_task"]

StageFunction = Callable[[Tomogram, TomogramFolders, RunConfig], dict]

STAGE_FUNCTIONS: dict[str, StageFunction] = {
    "segment": segment_stage,
    "instances": instances_stage,
    "surfaces": surfaces_stage,
    "pick": pick_stage,
    "stats": stats_stage,
    "morph": morph_stage,
}


def describe_error(err: BaseException, where: Path | None = None) -> str:
    """One line for the manifest and the console: what went wrong and, where known, what to do."""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        place = where if where is not None else Path(err.filename or ".")
        return (
            f"no space left on the disk while writing in {place}: free space there, or pass --out on a "
            "larger disk, then run again (finished work is kept)"
        )
    if type(err).__name__ == "KilledWorker":
        return (
            "the worker running this task died (killed, pre-empted or out of memory); run again to retry it, "
            "with fewer workers (--workers) if memory ran out"
        )
    if isinstance(err, (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError)):
        return str(err)
    if isinstance(err, OSError):
        return f"{err.strerror or err} ({err.filename or 'file system'})"
    return f"{type(err).__name__}: {err}"


def run_stage_task(
    stage: str,
    tomogram: Tomogram,
    root: str,
    config: RunConfig,
    functions: Mapping[str, StageFunction] | None = None,
) -> dict:
    """Run one stage of one tomogram (a dask task); never raises for a failing stage.

    Returns
    -------
    dict
        ``status`` ("done" or "failed"), ``summary`` (the stage's own, with ``outputs``), ``error``
        (one line), ``traceback`` (unexpected errors only), ``seconds``, ``worker``.
    """
    worker = f"{socket.gethostname()}:{os.getpid()}"
    function = (functions or STAGE_FUNCTIONS)[stage]
    folders = TomogramFolders(Path(root), tomogram.name)
    started = time.perf_counter()
    outcome: dict = {"worker": worker}
    try:
        outcome["summary"] = function(tomogram, folders, config)
        outcome["status"] = "done"
    except Exception as err:  # recorded in the manifest; the other tomograms go on
        outcome.update(status="failed", error=describe_error(err, folders.root))
        if not isinstance(err, (ValueError, FileNotFoundError, OSError)):
            outcome["traceback"] = "".join(traceback.format_exception(err)[-6:])
    outcome["seconds"] = round(time.perf_counter() - started, 3)
    return outcome


def run_pooled_task(
    folders: list[TomogramFolders], out_dir: str, config: RunConfig, function: Callable | None = None
) -> dict:
    """The pooled statistics as a dask task (same contract as :func:`run_stage_task`)."""
    started = time.perf_counter()
    try:
        outcome = {"status": "done", "summary": (function or pooled_stats_stage)(folders, out_dir, config)}
    except Exception as err:
        outcome = {"status": "failed", "error": describe_error(err, Path(out_dir))}
    outcome["seconds"] = round(time.perf_counter() - started, 3)
    return outcome
