"""``cryomem demo``: the built-in default run (for now: simulate a demo tomogram and its preview)."""

from __future__ import annotations

from pathlib import Path

import typer

from cryomem.cli._common import StageProgress, console, one_line_errors
from cryomem.cli._simulate import print_summary

DEMO_NAME = "demo"


@one_line_errors
def demo(
    out_dir: Path = typer.Argument(Path("cryomem-demo"), help="Folder to write the demo into."),
    seed: int = typer.Option(0, help="Random seed of the demo tomogram."),
    overwrite: bool = typer.Option(False, help="Replace OUT_DIR even if it holds something other than a demo."),
) -> None:
    """Simulate a small demo tomogram with membranes and membrane proteins, and write its preview."""
    from cryomem.simulate import SimulationConfig, simulate_to_folder

    previous_demo = (out_dir / f"{DEMO_NAME}_ground_truth.json").is_file()
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} is a file; give a folder for the demo output")
    config = SimulationConfig(seed=seed)
    console.print(
        f"Simulating a {' x '.join(map(str, config.shape_zyx))} (z, y, x) demo tomogram "
        f"at {config.voxel_size_ang:g} Å ..."
    )
    with StageProgress() as progress:
        folder, files, sim = simulate_to_folder(
            config, out_dir, name=DEMO_NAME, overwrite=overwrite or previous_demo, progress=progress
        )
    print_summary(folder, files, sim)
