"""``cryomem segment patches extract|merge``: patches for a person to correct, and back into training data."""

from __future__ import annotations

from pathlib import Path

import typer

from cryomem.cli._common import console, one_line_errors

patches_app = typer.Typer(
    help="Correction patches: extract image + current labels where the model struggles, merge corrected ones "
    "into a training data folder.",
    no_args_is_help=True,
)


@patches_app.command("extract")
@one_line_errors
def extract_command(
    tomogram: Path = typer.Argument(..., help="Tomogram (MRC)."),
    segmentation: Path = typer.Option(..., help="Its segmentation (<stem>_seg.mrc, membrane > 0), same shape."),
    scores: Path | None = typer.Option(None, help="Its membrane probabilities (<stem>_scores.mrc); for uncertain."),
    n: int = typer.Option(10, "--n", help="Number of patches."),
    size: int = typer.Option(64, help="Patch edge in voxels."),
    strategy: str = typer.Option(
        "uncertain", help="uncertain (probability closest to 0.5; needs --scores), random, or points (needs --points)."
    ),
    points: Path | None = typer.Option(None, help="STAR file of positions to centre patches on (--strategy points)."),
    seed: int = typer.Option(0, help="Seed of --strategy random."),
    border_ignore: int = typer.Option(
        4, "--border-ignore", help="Ignore (label 2) border of each label patch, voxels."
    ),
    out: Path = typer.Option(..., "--out", help="Folder for the patches and patches.json."),
    overwrite: bool = typer.Option(False, help="Replace patches of this tomogram already in --out."),
) -> None:
    """Write N image patches with the current segmentation as 0/1/2 labels, to correct in any editor."""
    from cryomem.segment._patches import extract_correction_patches

    sources = extract_correction_patches(
        tomogram, segmentation, out, n=n, size=size, strategy=strategy, scores=scores, points=points, seed=seed,
        border_ignore_voxels=border_ignore, overwrite=overwrite,
    )  # fmt: skip
    if len(sources) < n:
        console.print(
            f"note: only {len(sources)} of {n} patches: no room for more without overlap (or fewer --points "
            "inside the tomogram); lower --size for more",
            style="yellow",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"[bold green]done[/]: {len(sources)} patch(es) of {size}³ voxels ({strategy}) in {out}; correct the "
        "*_labels.mrc files (1 membrane, 0 background, 2 ignore), then `cryomem segment patches merge`",
        highlight=False,
        soft_wrap=True,
    )


@patches_app.command("merge")
@one_line_errors
def merge_command(
    corrected: list[Path] = typer.Argument(
        ..., help="Corrected patches: files or folders of <name>.mrc + <name>_labels.mrc."
    ),
    into: Path = typer.Option(..., "--into", help="Training data folder (imagesTr/labelsTr...); created if missing."),
    split: str = typer.Option("auto", help="train, val, or auto (every 5th patch validates)."),
) -> None:
    """Check every corrected patch, then add them all to a training data folder (never overwriting)."""
    from cryomem.segment._patches_merge import merge_corrected_patches

    entries = merge_corrected_patches(corrected, into, split=split)
    n_val = sum(e["split"] == "validation" for e in entries)
    console.print(
        f"[bold green]done[/]: added {len(entries) - n_val} training and {n_val} validation patch(es) to {into}",
        highlight=False,
        soft_wrap=True,
    )
