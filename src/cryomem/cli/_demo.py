"""``cryomem demo``: the whole pipeline on a simulated tomogram, compared with its ground truth."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from cryomem.cli._common import console, one_line_errors


def print_comparison(comparison: dict) -> None:
    """The ground-truth comparison as a small table."""
    from rich.table import Table

    table = Table(title="compared with the simulator's ground truth")
    table.add_column("measure")
    table.add_column("value", justify="right")
    seg, picks, conc = comparison.get("segmentation"), comparison.get("picking"), comparison.get("concentration")
    if seg:
        table.add_row("segmentation Dice", f"{seg['dice']:.3f}")
        table.add_row("segmentation Surface-Dice", f"{seg['surface_dice']:.3f}")
    if picks:
        radius = picks["radius_nm"]
        table.add_row(f"picking F1 at {radius} nm", f"{picks['f1']:.3f}")
        table.add_row("  precision / recall", f"{picks['precision']:.3f} / {picks['recall']:.3f}")
        table.add_row("  picked / true proteins", f"{picks['n_predicted']} / {picks['n_ground_truth']}")
    if conc:
        table.add_row("concentration, picked (per µm²)", f"{conc['predicted_per_um2']:.0f}")
        table.add_row("concentration, true (per µm²)", f"{conc['true_per_um2']:.0f}")
        error = conc["relative_error_percent"]
        table.add_row("concentration error", "–" if error is None else f"{error:+.1f} %")
    console.print(table)


@one_line_errors
def demo(
    out_dir: Path = typer.Argument(Path("cryomem-demo"), help="Folder to write the demo into."),
    seed: int = typer.Option(0, help="Random seed of the demo tomogram."),
    overwrite: bool = typer.Option(False, help="Write into OUT_DIR even if it holds something other than a demo."),
    fast: bool = typer.Option(False, "--fast", hidden=True, help="Tiny tomogram, fewer statistics (tests)."),
) -> None:
    """Simulate a tomogram with membrane proteins, run segment -> surfaces -> pick -> stats with the shipped
    models, compare with the ground truth and write an HTML report."""
    from cryomem.cli._run import StageBars
    from cryomem.pipeline import DEMO_SHAPE_ZYX, FAST_SHAPE_ZYX, run_demo

    shape = FAST_SHAPE_ZYX if fast else DEMO_SHAPE_ZYX
    console.print(
        f"cryomem demo: a {' x '.join(map(str, shape))} (z, y, x) tomogram at 10 Å with membrane proteins, "
        "through the whole pipeline (shipped segmentation and demo picking models)",
        highlight=False,
        soft_wrap=True,
    )
    started = time.perf_counter()
    with StageBars() as bars:
        result = run_demo(out_dir, seed=seed, fast=fast, overwrite=overwrite, progress=bars)
    print_comparison(result.comparison)
    for name, stage, error in result.run.failures:
        console.print(f"[bold red]failed[/] {name} / {stage}: {error}", highlight=False, soft_wrap=True)
    console.print(
        f"simulated data in {result.data_dir}/, pipeline outputs in {result.run.run_dir}/ "
        f"({time.perf_counter() - started:.0f} s)",
        highlight=False,
        soft_wrap=True,
    )
    if result.report is not None:
        console.print(f"[bold green]report[/]: open {result.report} in a browser", highlight=False, soft_wrap=True)
    if result.run.failures:
        raise typer.Exit(1)
