"""``cryomem run TOMOGRAMS... --out DIR`` (the whole pipeline on dask) and ``cryomem report RUN_DIR``."""

from __future__ import annotations

from pathlib import Path

import typer

from cryomem.cli._common import console, one_line_errors


class StageBars:
    """Rich progress bars, one per stage plus one overall, fed by ``(stage, done, total)`` calls."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console,
        )  # fmt: skip
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> StageBars:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        name = "overall" if stage == "all" else stage
        if name not in self._tasks:
            if total == 0:
                return
            self._tasks[name] = self._progress.add_task(name, total=total)
        self._progress.update(self._tasks[name], completed=done, total=total)


def print_run_summary(result, run_dir: Path) -> None:
    """Counts per stage, failures (first 20), and what was written where."""
    from rich.table import Table

    stages = [s for s in ("segment", "instances", "surfaces", "pick", "stats", "morph", "pooled")
              if s in result.executed or s in result.up_to_date]  # fmt: skip
    failed: dict[str, int] = {}
    for _, stage, _ in result.failures:
        failed[stage] = failed.get(stage, 0) + 1
    table = Table(title=f"cryomem run: {len(result.tomograms)} tomograms")
    for column in ("stage", "ran", "up to date", "failed", "skipped"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in stages:
        skipped = sum(1 for _, s in result.skipped if s == stage)
        table.add_row(stage, str(result.executed.get(stage, 0)), str(result.up_to_date.get(stage, 0)),
                      str(failed.get(stage, 0)), str(skipped))  # fmt: skip
    console.print(table)
    if result.ignored_inputs:
        names = ", ".join(p.name for p in result.ignored_inputs[:5])
        more = f" and {len(result.ignored_inputs) - 5} more" if len(result.ignored_inputs) > 5 else ""
        console.print(f"[yellow]ignored {len(result.ignored_inputs)} non-MRC files[/]: {names}{more}", highlight=False)
    for name, stage, error in result.failures[:20]:
        console.print(f"[bold red]failed[/] {name} / {stage}: {error}", highlight=False, soft_wrap=True)
    if len(result.failures) > 20:
        console.print(f"... and {len(result.failures) - 20} more failures (see {run_dir / 'manifest.json'})")
    console.print(
        f"run folder: {run_dir}/ (manifest.json, tomograms/<name>/<stage>/, pooled/)", highlight=False, soft_wrap=True
    )
    if result.report is not None:
        console.print(f"report: {result.report}", highlight=False, soft_wrap=True)


# run setting -> the flag that sets it, for messages about a bad value
_FLAGS = {
    "voxel_size_ang": "--voxel-size",
    "device": "--device",
    "cluster.workers": "--workers",
    "cluster.scheduler": "--scheduler",
    "segment.model": "--segmentation-model",
    "pick.model": "--pick-model",
}


def _run_config(config_file: Path | None, overrides: dict):
    """The run settings from ``--config`` and the flags; a bad value is named by its flag or setting and value."""
    from pydantic import ValidationError

    from cryomem.pipeline import load_run_config

    try:
        return load_run_config(config_file, **overrides)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        text = str(first.get("msg", err)).removeprefix("Value error, ")
        value = first.get("input")
        if where in _FLAGS and overrides.get(where) is not None:
            raise ValueError(f"{_FLAGS[where]} {value!r}: {text[0].lower()}{text[1:]}") from None
        source = f" in {config_file}" if config_file is not None else ""
        raise ValueError(f"invalid setting {where}{source}: {text} (got {value!r})") from None


@one_line_errors
def run(
    tomograms: list[Path] | None = typer.Argument(
        None, help="Tomograms (MRC, OME-Zarr) or folders of them; other files are skipped. Not with --copick."
    ),
    out_dir: Path = typer.Option(..., "--out", help="Run folder; running again resumes it."),
    pick_model: list[Path] | None = typer.Option(
        None,
        "--pick-model",
        help="Picking model (cryomem pick train); repeat it for an ensemble (predicted distances averaged). "
        "Without one the run stops after surfaces.",
    ),
    config_file: Path | None = typer.Option(None, "--config", help="YAML run config (cryomem.pipeline.RunConfig)."),
    segmentation_model: Path | None = typer.Option(
        None, "--segmentation-model", help="Segmentation model (default: the shipped one)."
    ),
    voxel_size: float | None = typer.Option(None, "--voxel-size", help="Voxel size in Å; overrides the headers."),
    tta: bool | None = typer.Option(None, "--tta/--no-tta", help="8-fold segmentation TTA (default on; 8x slower)."),
    sheet_filter: bool | None = typer.Option(
        None, "--sheet-filter/--no-sheet-filter", help="Keep only sheet-like segmented pieces (default on)."
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda or mps."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Local workers (default: one per GPU or core)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Join a running dask scheduler at this address."),
    slurm: bool = typer.Option(
        False, "--slurm", help="Start workers as SLURM jobs (needs dask-jobqueue; settings: cluster.slurm in --config)."
    ),
    allow_mixed_voxel_sizes: bool = typer.Option(
        False, "--allow-mixed-voxel-sizes", help="Process tomograms of different voxel sizes together."
    ),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html at the end."),
    copick: Path | None = typer.Option(
        None, "--copick", help="copick project config (JSON): run its tomograms and write the results back into it."
    ),
    tomo_type: str | None = typer.Option(None, "--tomo-type", help="copick tomogram type, e.g. wbp or denoised."),
    voxel_spacing: float | None = typer.Option(None, "--voxel-spacing", help="copick voxel spacing, Å."),
    copick_runs: list[str] | None = typer.Option(
        None, "--copick-run", help="copick run to process (repeat it; default: every run with the tomogram)."
    ),
    user_id: str = typer.Option("cryomem", "--user-id", help="copick user the results are written as."),
    session_id: str = typer.Option("0", "--session-id", help="copick session the results are written as."),
    membrane_object: str = typer.Option(
        "membrane", "--membrane-object", help="copick object of the segmentations and meshes (is_particle false)."
    ),
    protein_object: str = typer.Option(
        "protein", "--protein-object", help="copick object of the picks (is_particle true)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace results of this copick user and session already in the project."
    ),
) -> None:
    """Segment, mesh, pick and measure every tomogram on a dask cluster; pooled statistics and a report.

    With --copick the tomograms come from a copick project and the membrane segmentation, instances,
    meshes and picks go back into it (napari-copick and ChimeraX-copick show them).
    """
    from cryomem.pipeline import dashboard_link, run_pipeline

    source = _copick_source(tomograms, copick, tomo_type, voxel_spacing, copick_runs)

    config = _run_config(
        config_file,
        {
            "pick.model": [str(p) for p in pick_model] if pick_model else None,  # one path: a single model
            "segment.model": str(segmentation_model) if segmentation_model is not None else None,
            "segment.tta": tta,
            "segment.sheet_filter": sheet_filter,
            "voxel_size_ang": voxel_size,
            "device": device,
            "cluster.workers": workers,
            "cluster.scheduler": scheduler,
            "allow_mixed_voxel_sizes": True if allow_mixed_voxel_sizes else None,
        },
    )
    if slurm and config.cluster.slurm is None:
        from cryomem.pipeline import SlurmSettings

        config = config.model_copy(update={"cluster": config.cluster.model_copy(update={"slurm": SlurmSettings()})})

    def started(client) -> None:
        workers_now = len(client.scheduler_info().get("workers", {}))
        link = dashboard_link(client)
        console.print(
            f"dask: {workers_now} workers at {client.scheduler.address}; dashboard: "
            f"{link or 'not served (pip install bokeh to see it)'}",
            highlight=False,
        )

    with StageBars() as bars:
        options = {"progress": bars, "write_report": report, "on_start": started}
        if source is None:
            result = run_pipeline(tomograms, out_dir, config, **options)
        else:
            from cryomem.pipeline import CopickTarget, run_copick

            target = CopickTarget(user_id, session_id, membrane_object, protein_object, overwrite)
            result, writes = run_copick(source, target, out_dir, config, **options)
    print_run_summary(result, out_dir)
    if source is not None:
        print_copick_writes(writes, source, target)
    if result.failures:
        raise typer.Exit(1)


def _copick_source(tomograms, copick, tomo_type, voxel_spacing, runs):
    """The copick tomograms to run (None for loose files); the flags that belong together are checked."""
    copick_flags = {"--tomo-type": tomo_type, "--voxel-spacing": voxel_spacing, "--copick-run": runs or None}
    if copick is None:
        given = [flag for flag, value in copick_flags.items() if value is not None]
        if given:
            raise ValueError(f"{given[0]} is a copick option; pass --copick CONFIG with it, or leave it out")
        if not tomograms:
            raise ValueError("no tomograms given; pass MRC/OME-Zarr tomograms or folders, or --copick CONFIG")
        return None
    if tomograms:
        raise ValueError(
            f"both tomograms ({tomograms[0]}) and --copick {copick} given; pass one of them (the tomograms of a "
            "copick project come from --tomo-type and --voxel-spacing)"
        )
    from cryomem.io import copick_tomogram_kinds
    from cryomem.pipeline import CopickSource

    if tomo_type is None or voxel_spacing is None:
        missing = "--tomo-type" if tomo_type is None else "--voxel-spacing"
        kinds = copick_tomogram_kinds(copick)
        listing = ", ".join(f"{kind} at {spacing:g} Å" for kind, spacing in kinds[:10]) or "none"
        raise ValueError(f"--copick needs {missing}; the project's tomograms are: {listing}")
    return CopickSource(copick, tomo_type, voxel_spacing, tuple(runs) if runs else None)


def print_copick_writes(writes, source, target) -> None:
    """What went into the copick project, one line per kind."""
    if not writes:
        console.print(f"[yellow]nothing was written into {source.config_path}[/]", highlight=False)
        return
    kinds: dict[str, list] = {}
    for write in writes:
        kinds.setdefault(write.kind, []).append(write)
    parts = []
    for kind, items in kinds.items():
        counted = [w.count for w in items if w.count is not None]
        extra = f" ({sum(counted)} {'membranes' if kind in ('instances', 'mesh') else 'particles'})" if counted else ""
        parts.append(f"{kind} in {len(items)} runs{extra}")
    console.print(
        f"copick {source.config_path}: wrote {'; '.join(parts)} as user {target.user_id!r}, session "
        f"{target.session_id!r}",
        highlight=False,
        soft_wrap=True,
    )


@one_line_errors
def report(
    run_dir: Path = typer.Argument(..., help="Run folder written by `cryomem run`."),
    out: Path | None = typer.Option(None, "--out", help="HTML file (default: RUN_DIR/report.html)."),
    max_tomograms: int = typer.Option(50, "--max-tomograms", min=1, help="Tomograms drawn in full."),
) -> None:
    """Write one self-contained HTML page of a run: slices, meshes, particles, statistics, pooled tables."""
    from cryomem.pipeline import write_report

    path = write_report(run_dir, out, max_tomograms=max_tomograms)
    console.print(
        f"[bold green]done[/]: report in {path} ({path.stat().st_size / 1e6:.1f} MB)", highlight=False, soft_wrap=True
    )
