"""``cryomem run``: every tomogram through segment -> instances -> surfaces -> pick -> stats -> morph on dask.

The client plans (which stages are up to date according to the manifest) and submits the first
stage to run of every tomogram as a dask.distributed task; as each task finishes it is recorded in
the manifest and the tomogram's next stage is submitted (with a higher priority, so tomograms that
started finish first). Tasks carry no dask dependencies: their results are files, so a worker
that dies loses nothing dask would have to recompute. A failing task is recorded and only its own
tomogram's later stages are skipped. At the end the statistics are pooled over all tomograms and
the HTML report is written.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryomem.io import CountProgress
from cryomem.pipeline._lock import run_lock
from cryomem.pipeline._manifest import Manifest, file_fingerprint, new_token
from cryomem.pipeline._settings import STAGES, RunConfig
from cryomem.pipeline._stages import TomogramFolders
from cryomem.pipeline._tasks import StageFunction, describe_error, run_pooled_task, run_stage_task
from cryomem.pipeline._tomograms import Tomogram, find_tomograms, read_tomograms

__all__ = ["RunResult", "run_pipeline"]


_STAGE_FOLDERS = ("segment", "instances", "membranes", "picks", "stats", "morph")
_STALE = re.compile(
    r"^\.(segment|instances|membranes|picks|stats|morph|pooled|manifest\.json|report\.html)\.(tmp|old)-"
)


@dataclass
class RunResult:
    """What one call of :func:`run_pipeline` did.

    Attributes
    ----------
    run_dir : pathlib.Path
        The run folder (manifest, tomograms/, pooled/, report.html).
    tomograms : list of str
        Names of the tomograms of this run.
    executed : dict of str to int
        Tasks run per stage in this call (finished or failed; ``pooled`` included).
    up_to_date : dict of str to int
        Stages per name left alone because they were finished with the same inputs and settings.
    failures : list of (tomogram, stage, error)
        Failed tasks (tomogram ``"*"`` for the pooled statistics).
    skipped : list of (tomogram, stage)
        Stages not run because an earlier stage of their tomogram failed.
    ignored_inputs : list of pathlib.Path
        Files in the given folders that are not MRC tomograms.
    report : pathlib.Path or None
        The HTML report, if written.
    """

    run_dir: Path
    tomograms: list[str]
    executed: dict[str, int] = field(default_factory=dict)
    up_to_date: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored_inputs: list[Path] = field(default_factory=list)
    report: Path | None = None

    @property
    def n_executed(self) -> int:
        return sum(self.executed.values())


def _stage_inputs(stage: str, tomogram: Tomogram, config: RunConfig, models: dict[str, dict | list[dict]]) -> dict:
    if stage == "segment":
        return {"tomogram": tomogram.fingerprint, "model": models["segment"]}
    if stage == "surfaces":
        return {"tomogram": tomogram.fingerprint}
    if stage == "pick":
        return {"model": models["pick"]}
    return {}


def _clean_stale(folder: Path) -> None:
    """Remove temporary folders/files left by killed workers (``.<stage>.tmp-*``)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if _STALE.match(entry.name):
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


def _model_fingerprints(config: RunConfig) -> dict[str, dict | list[dict]]:
    """Check the model files before any work (cheapest first) and fingerprint them.

    The pick fingerprint is one file's for a single model and a list of them for an ensemble, so
    changing any member re-runs picking and what follows.
    """
    from cryomem.segment import DEFAULT_MODEL_PATH, read_model_card

    pick_models = config.pick.model_paths
    for path in pick_models:
        if not path.is_file():
            raise FileNotFoundError(
                f"pick model {path} does not exist; pass a model from `cryomem pick train` "
                "with --pick-model, or leave it out to stop after the surfaces"
            )
    seg_model = Path(config.segment.model) if config.segment.model is not None else DEFAULT_MODEL_PATH
    if not seg_model.is_file():
        raise FileNotFoundError(
            f"segmentation model {seg_model} does not exist; pass a model from `cryomem segment train`"
        )
    models: dict[str, dict | list[dict]] = {}
    if pick_models:
        from cryomem.pick import Picker

        picker = Picker.load(pick_models)  # picking models that agree with each other, not something else
        picker.check_feature_lowpass_setting(config.surfaces.feature_lowpass_ang)
        fingerprints = [file_fingerprint(path) for path in pick_models]
        models["pick"] = fingerprints[0] if len(fingerprints) == 1 else fingerprints
    read_model_card(seg_model)
    models["segment"] = file_fingerprint(seg_model)
    return models


def run_pipeline(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: RunConfig | None = None,
    *,
    client=None,
    progress: CountProgress | None = None,
    write_report: bool = True,
    stage_functions: Mapping[str, StageFunction] | None = None,
    on_start: Callable[[object], None] | None = None,
    names: Mapping[str | os.PathLike[str], str] | None = None,
) -> RunResult:
    """Process tomograms through all stages on a dask cluster, resuming what an earlier run left.

    Parameters
    ----------
    inputs : sequence of paths
        Tomograms (MRC) and folders of them; other files in the folders are ignored and listed.
    out_dir : str or os.PathLike
        The run folder: ``manifest.json``, ``tomograms/<name>/<stage>/``, ``pooled/``, ``report.html``.
    config : RunConfig, optional
        Settings (defaults: the shipped segmentation model, no picking).
    client : distributed.Client, optional
        Where the tasks run (default: a local cluster, :func:`cryomem.pipeline.open_client`).
    progress : callable ``(stage, done, total)``, optional
        Called when a stage's tasks are planned and as each finishes; stage ``"all"`` counts everything.
    write_report : bool, default True
        Write ``report.html`` at the end.
    stage_functions : mapping, optional
        Replacement stage functions by name (testing, custom stages); same signature as
        :func:`cryomem.pipeline.segment_stage` (``"pooled"``: as :func:`cryomem.pipeline.pooled_stats_stage`).
    on_start : callable ``(client)``, optional
        Called once the inputs are checked and the client is ready (e.g. to print the dashboard).
    names : mapping of path to str, optional
        Names for some tomograms instead of their file stems (e.g. copick run names).

    Returns
    -------
    RunResult

    Raises
    ------
    ValueError, FileNotFoundError
        Before any work: no tomograms, duplicate names, mixed voxel sizes (unless allowed), missing
        or foreign model files, pick models trained on another feature low-pass than the run's or an
        ensemble whose models disagree, an unreadable manifest, or another run using ``out_dir``.
    """
    config = config or RunConfig()
    run_dir = Path(out_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise NotADirectoryError(f"run folder {run_dir} is a file; pass a folder with --out")
    paths, ignored = find_tomograms(inputs, names)
    models = _model_fingerprints(config)
    tomograms = read_tomograms(paths, config, names)
    manifest = Manifest.load(run_dir)  # a foreign manifest is refused before any cluster starts
    args = (tomograms, ignored, run_dir, config, models, manifest)
    if client is None:
        from cryomem.pipeline._cluster import open_client

        with open_client(config.cluster, n_tasks=len(tomograms)) as own_client:
            return _locked_run(*args, own_client, progress, write_report, stage_functions, on_start)
    return _locked_run(*args, client, progress, write_report, stage_functions, on_start)


def _locked_run(tomograms, ignored, run_dir, config, models, manifest, client, progress, write_report, functions,
                on_start):  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir):
        manifest = Manifest.load(run_dir)  # again: another run may have finished since the check
        if on_start:
            on_start(client)
        return _run(tomograms, ignored, run_dir, config, models, manifest, client, progress, write_report, functions)


def _run(tomograms, ignored, run_dir, config, models, manifest, client, progress, write_report, functions):
    from distributed import as_completed

    stages = config.stages()
    result = RunResult(run_dir, [t.name for t in tomograms], ignored_inputs=list(ignored))
    manifest.config = config.model_dump(mode="json")
    _clean_stale(run_dir)
    plans: dict[str, list[str]] = {}  # tomogram -> stages still to run, in order
    by_name = {t.name: t for t in tomograms}
    for tomogram in tomograms:
        entry = manifest.tomograms.setdefault(tomogram.name, {})
        entry.update(path=str(tomogram.path), voxel_size_ang=tomogram.voxel_size_ang, shape_zyx=tomogram.shape_zyx,
                     origin_xyz_ang=list(tomogram.origin_xyz_ang))  # fmt: skip
        _clean_stale(run_dir / "tomograms" / tomogram.name)
        if tomogram.error is not None:  # unreadable header: recorded, nothing submitted
            manifest.set_record(tomogram.name, stages[0], {"status": "failed", "error": tomogram.error,
                                                           "token": new_token(), "finished": _now()})  # fmt: skip
            result.failures.append((tomogram.name, stages[0], tomogram.error))
            continue
        plan = []
        for stage in stages:
            inputs = _stage_inputs(stage, tomogram, config, models)
            upstream = config.upstream_stage(stage)
            token = (manifest.record(tomogram.name, upstream) or {}).get("token") if upstream else None
            if upstream in plan or not manifest.is_fresh(
                tomogram.name, stage, config.settings_hash(stage), inputs, token
            ):
                plan.append(stage)
            else:
                result.up_to_date[stage] = result.up_to_date.get(stage, 0) + 1
        if plan:
            plans[tomogram.name] = plan
    manifest.save()
    totals = {stage: sum(stage in plan for plan in plans.values()) for stage in stages}
    done = dict.fromkeys(stages, 0)
    total_all = sum(totals.values())
    if progress:
        for stage in stages:
            progress(stage, 0, totals[stage])
        progress("all", 0, total_all)
    running = as_completed()
    futures: dict = {}  # future -> (tomogram, stage, settings hash, inputs)

    def submit(tomogram: Tomogram) -> None:
        """Submit the next stage of a tomogram; later stages first, so started tomograms finish first."""
        stage = plans[tomogram.name].pop(0)
        future = client.submit(
            run_stage_task, stage, tomogram, str(run_dir / "tomograms" / tomogram.name), config, functions,
            key=f"{stage}-{tomogram.name}-{new_token()}", priority=STAGES.index(stage), pure=False,
        )  # fmt: skip
        futures[future] = (tomogram, stage, config.settings_hash(stage), _stage_inputs(stage, tomogram, config, models))
        running.add(future)

    def finish(stage: str) -> None:
        done[stage] += 1
        if progress:
            progress(stage, done[stage], totals[stage])
            progress("all", sum(done.values()), total_all)

    for name in plans:
        submit(by_name[name])
    try:
        for future in running:
            tomogram, stage, settings_hash, inputs = futures.pop(future)
            outcome = _outcome(future)
            future.release()
            summary = outcome.get("summary") or {}
            record = {
                "status": outcome["status"], "settings_hash": settings_hash, "inputs": inputs,
                "upstream": _upstream_token(manifest, tomogram.name, config, stage), "token": new_token(),
                "outputs": summary.pop("outputs", []), "summary": summary, "error": outcome.get("error"),
                "traceback": outcome.get("traceback"), "seconds": outcome.get("seconds"),
                "worker": outcome.get("worker"), "finished": _now(),
            }  # fmt: skip
            manifest.set_record(tomogram.name, stage, record)
            result.executed[stage] = result.executed.get(stage, 0) + 1
            finish(stage)
            if record["status"] == "done":
                if plans[tomogram.name]:
                    submit(tomogram)
            else:
                result.failures.append((tomogram.name, stage, record["error"]))
                for later in plans.pop(tomogram.name):  # not run: an earlier stage failed
                    manifest.set_record(tomogram.name, later, {"status": "skipped", "token": new_token(),
                                        "error": f"not run: {stage} failed", "finished": _now()})  # fmt: skip
                    result.skipped.append((tomogram.name, later))
                    finish(later)
            manifest.save(force=False)
        if "stats" in stages:
            _pooled(tomograms, run_dir, config, manifest, client, result, progress, (functions or {}).get("pooled"))
    finally:
        manifest.save()
    if write_report:
        from cryomem.pipeline._report import write_report as write_html

        try:
            result.report = write_html(run_dir)
        except Exception as err:  # the run's results stand even if the report cannot be drawn
            result.failures.append(("*", "report", describe_error(err, run_dir)))
    return result


def _outcome(future) -> dict:
    if future.status == "finished":
        return future.result()
    if future.status == "cancelled":
        return {"status": "failed", "error": "the task was cancelled (the cluster went away); run again"}
    return {"status": "failed", "error": describe_error(future.exception())}


def _upstream_token(manifest: Manifest, name: str, config: RunConfig, stage: str) -> str | None:
    upstream = config.upstream_stage(stage)
    record = manifest.record(name, upstream) if upstream else None
    return record.get("token") if record else None


def _pooled(tomograms, run_dir: Path, config: RunConfig, manifest: Manifest, client, result: RunResult, progress,
            function=None):  # fmt: skip
    """Pool the statistics over every tomogram whose statistics are done (re-run only when they changed)."""
    ready = [t for t in tomograms if (manifest.record(t.name, "stats") or {}).get("status") == "done"]
    upstream = sorted(f"{t.name}:{manifest.record(t.name, 'stats')['token']}" for t in ready)
    settings_hash = config.settings_hash("pooled")
    record = manifest.pooled or {}
    outputs_exist = all((run_dir / out).exists() for out in record.get("outputs", []))
    if (record.get("status") == "done" and record.get("upstream") == upstream
            and record.get("settings_hash") == settings_hash and outputs_exist):  # fmt: skip
        result.up_to_date["pooled"] = 1
        return
    if not ready:
        manifest.pooled = None
        return
    if progress:
        progress("pooled", 0, 1)
    folders = [TomogramFolders(run_dir / "tomograms" / t.name, t.name) for t in ready]
    future = client.submit(run_pooled_task, folders, str(run_dir / "pooled"), config, function, pure=False)
    try:
        outcome = future.result()
    except Exception as err:  # a worker died under it
        outcome = {"status": "failed", "error": describe_error(err)}
    summary = outcome.get("summary") or {}
    manifest.pooled = {
        "status": outcome["status"], "settings_hash": settings_hash, "upstream": upstream, "token": new_token(),
        "outputs": summary.pop("outputs", []), "summary": summary, "error": outcome.get("error"),
        "seconds": outcome.get("seconds"), "finished": _now(),
    }  # fmt: skip
    result.executed["pooled"] = 1
    if outcome["status"] != "done":
        result.failures.append(("*", "pooled", outcome["error"]))
    if progress:
        progress("pooled", 1, 1)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")
