"""Where ``cryomem run`` executes: a local dask cluster, an existing scheduler, or SLURM (dask-jobqueue).

A local cluster has one single-threaded worker process per GPU (each sees only its GPU through
``CUDA_VISIBLE_DEVICES``) or, without GPUs, one per CPU core; torch in each worker uses its share
of the cores. No scheduling of our own: dask.distributed places the tasks.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator

from cryomem.pipeline._settings import ClusterSettings, SlurmSettings

__all__ = ["cuda_device_count", "dashboard_link", "local_worker_count", "open_client"]

CONNECT_TIMEOUT = "20s"


def cuda_device_count() -> int:
    """GPUs torch can see in this process (0 without CUDA)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip():
        return 0
    import torch

    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def local_worker_count(workers: int | None = None, *, n_tasks: int | None = None) -> tuple[int, int]:
    """``(workers, gpus)`` of a local cluster: one worker per GPU, else one per core, at most ``n_tasks``."""
    gpus = cuda_device_count()
    cores = os.cpu_count() or 1
    if workers is None:
        workers = gpus or cores
        if n_tasks is not None:
            workers = max(1, min(workers, n_tasks))
    return int(workers), gpus


def dashboard_link(client) -> str | None:
    """The dask dashboard address of a client's scheduler, or None when it cannot serve one (no bokeh)."""
    if importlib.util.find_spec("bokeh") is None:
        return None
    try:
        return client.dashboard_link
    except (AttributeError, KeyError):
        return None


def _dashboard_address() -> str:
    """The usual port 8787 when bokeh can draw the dashboard (dask moves to a free port if it is taken);
    otherwise any free port for dask's small HTTP server."""
    return ":8787" if importlib.util.find_spec("bokeh") is not None else ":0"


def _local_cluster(workers: int, gpus: int, processes: bool):
    """Single-threaded workers; each holds one task at a time (worker-saturation 1.0: stages take
    seconds to minutes, so nothing is gained by queueing a second task on a busy worker)."""
    import dask
    from distributed import LocalCluster, Nanny, Scheduler, SpecCluster

    cores = os.cpu_count() or 1
    threads = str(max(1, cores // workers))
    env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    if gpus and processes:  # one GPU per worker process
        spec = {
            i: {"cls": Nanny, "options": {"nthreads": 1, "env": {**env, "CUDA_VISIBLE_DEVICES": str(i % gpus)}}}
            for i in range(workers)
        }
        scheduler = {"cls": Scheduler, "options": {"dashboard_address": _dashboard_address()}}
        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
            return SpecCluster(workers=spec, scheduler=scheduler, name="cryomem")
    options = {"env": env} if processes else {}
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        return LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=_dashboard_address(),
            **options,
        )  # fmt: skip


def _slurm_cluster(settings: SlurmSettings):
    if importlib.util.find_spec("dask_jobqueue") is None:
        raise ValueError("--slurm needs dask-jobqueue: install it with `pip install dask-jobqueue` and run again")
    from dask_jobqueue import SLURMCluster

    directives = list(settings.job_extra_directives)
    if settings.gpus:
        directives.append(f"--gres=gpu:{settings.gpus}")
    cluster = SLURMCluster(
        cores=settings.cores,
        processes=1,
        memory=settings.memory,
        walltime=settings.walltime,
        queue=settings.queue,
        account=settings.account,
        job_extra_directives=directives,
        worker_extra_args=["--nthreads", "1"],
        job_script_prologue=[f"export OMP_NUM_THREADS={settings.cores}"],
        scheduler_options={"dashboard_address": _dashboard_address()},
    )
    cluster.scale(jobs=settings.jobs)
    return cluster


@contextlib.contextmanager
def open_client(settings: ClusterSettings = ClusterSettings(), *, n_tasks: int | None = None) -> Iterator:
    """A ``distributed.Client`` for a run, closed (with any cluster it started) on exit.

    Parameters
    ----------
    settings : ClusterSettings
        ``scheduler`` joins a running scheduler; ``slurm`` starts SLURM jobs (needs dask-jobqueue);
        otherwise a local cluster of ``workers`` single-threaded workers (default: one per GPU,
        else one per core), processes unless ``processes`` is False (threads of this process).
    n_tasks : int, optional
        Upper bound on useful local workers (the number of tomograms).

    Yields
    ------
    distributed.Client
        ``client.dashboard_link`` is the dashboard address when one is served.

    Raises
    ------
    ValueError
        Both a scheduler and SLURM given, dask-jobqueue missing, or the scheduler is unreachable.
    """
    from distributed import Client

    if settings.scheduler and settings.slurm:
        raise ValueError("give either --scheduler (join a running cluster) or --slurm (start one), not both")
    if settings.scheduler:
        try:
            client = Client(settings.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as err:
            raise ValueError(
                f"cannot reach the dask scheduler at {settings.scheduler} ({err}); start it with "
                "`dask scheduler` or check the address"
            ) from None
        with client:
            yield client
        return
    if settings.slurm is not None:
        cluster = _slurm_cluster(settings.slurm)
    else:
        workers, gpus = local_worker_count(settings.workers, n_tasks=n_tasks)
        try:
            cluster = _local_cluster(workers, gpus, settings.processes)
        except RuntimeError as err:  # e.g. worker processes that cannot start
            raise ValueError(
                f"could not start a local dask cluster of {workers} workers ({err}); try fewer workers "
                "(--workers), or workers as threads (cluster.processes: false in --config)"
            ) from None
    with cluster, Client(cluster) as client:
        yield client
