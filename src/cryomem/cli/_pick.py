"""``cryomem pick train|predict|evaluate``: particles on membrane surfaces."""

from __future__ import annotations

from pathlib import Path

import typer

from cryomem.cli._common import StageProgress, build_settings, console, one_line_errors, setting_option
from cryomem.cli._training_settings import training_config
from cryomem.pick._settings import PickSettings

_PICK = PickSettings
_FLAGS = {"model": "--model", "bandwidth_ang": "--bandwidth-ang", "seed_threshold_ang": "--threshold-ang"}

pick_app = typer.Typer(
    help="Membrane-protein picking on membrane surfaces: train a model, predict particles, evaluate picks.",
    no_args_is_help=True,
)


def _membrane_files(membranes: Path) -> list[Path]:
    """A folder's ``.h5`` membrane files, or the one file given.

    A folder that still holds temporary files of an interrupted write (``.<name>.tmp-<random>``)
    may hold only part of its membranes and is refused.
    """
    if membranes.is_dir():
        leftovers = sorted(p.name for p in membranes.iterdir() if p.name.startswith(".") and ".tmp-" in p.name)
        if leftovers:
            names = ", ".join(leftovers[:3]) + (f" and {len(leftovers) - 3} more" if len(leftovers) > 3 else "")
            raise ValueError(
                f"membrane folder {membranes} holds temporary files of an interrupted run ({names}), so its set of "
                "membranes may be incomplete; re-run `cryomem surface` for it (with --overwrite)"
            )
        found = sorted(p for p in membranes.iterdir() if p.suffix.lower() == ".h5" and not p.name.startswith("."))
        if not found:
            raise ValueError(f"folder {membranes} holds no membrane .h5 files; run `cryomem surface` first")
        return found
    if not membranes.exists():
        raise FileNotFoundError(f"membranes {membranes} does not exist; pass the folder written by `cryomem surface`")
    return [membranes]


@pick_app.command("train")
@one_line_errors
def train_command(
    membranes: Path = typer.Option(..., "--membranes", help="Folder of membrane .h5 files (`cryomem surface`)."),
    particles: list[Path] = typer.Option(..., "--particles", help="Annotated particle STAR file (repeatable)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for model.pt, checkpoints, log and learning curves."),
    config_file: Path | None = typer.Option(None, "--config", help="YAML with training settings."),
    epochs: int | None = typer.Option(None, help="Epochs (overrides the config)."),
    voxel_size: float | None = typer.Option(
        None, "--voxel-size", help="Pixel size of the STAR coordinates in Å, for files that do not state it."
    ),
) -> None:
    """Train a picking model on membranes with annotated particles (matched by rlnTomoName)."""
    import pandas as pd

    from cryomem.io import read_particles_star
    from cryomem.pick import PickTrainConfig, read_pick_model_card, train_pick_model

    paths = _membrane_files(membranes)
    config = training_config(PickTrainConfig, config_file, flags={"epochs": ("--epochs", epochs)})
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output folder {out_dir} is a file; pass a folder with --out")
    table = pd.concat([read_particles_star(p, voxel_size_ang=voxel_size) for p in particles], ignore_index=True)
    with StageProgress() as progress:
        model = train_pick_model(paths, table, out_dir, config, progress=progress)
    console.print(
        f"[bold green]done[/]: trained on {len(paths)} membrane file(s), {len(table)} particles; "
        f"model in {model}, log and learning curves in {out_dir}",
        highlight=False,
        soft_wrap=True,
    )
    calibration = read_pick_model_card(model).calibration
    if calibration:
        console.print(
            f"mean shift calibrated on the validation membranes: bandwidth {calibration.bandwidth_ang:g} Å, "
            f"seed threshold {calibration.seed_threshold_ang:g} Å (one-to-one F1 "
            f"{calibration.f1_one_to_one:.2f} at {calibration.radius_nm:g} nm on {calibration.n_true} "
            "particles); `pick predict` uses them",
            highlight=False,
            soft_wrap=True,
        )


@pick_app.command("predict")
@one_line_errors
def predict_command(
    model: list[Path] = typer.Option(
        ...,
        "--model",
        help="Model file from `cryomem pick train`; repeat it for an ensemble (predicted distances averaged).",
    ),
    membranes: Path = typer.Option(..., "--membranes", help="Folder of membrane .h5 files (`cryomem surface`)."),
    out_dir: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for <tomo>_particles.star and copies of the membrane files with the predicted distances "
        "(default: 'particles' beside the membranes folder).",
    ),
    tta: bool = setting_option(_PICK, "tta", "--tta/--no-tta"),
    bandwidth_ang: float | None = setting_option(_PICK, "bandwidth_ang", _FLAGS["bandwidth_ang"]),
    seed_threshold_ang: float | None = setting_option(_PICK, "seed_threshold_ang", _FLAGS["seed_threshold_ang"]),
    min_seeds: int = typer.Option(1, min=1, help="Fewest converged seeds that make a particle."),
    seed: int = setting_option(_PICK, "seed", min=0),
    inplane_deg: float | None = typer.Option(
        None, "--inplane-deg", help="Fixed in-plane angle in degrees (default: random from --seed)."
    ),
    on_surface: bool = typer.Option(
        False, "--on-surface", help="Place particles on the segmentation's surface, not the membrane's mid-surface."
    ),
    overwrite: bool = typer.Option(False, help="Replace existing STAR and membrane files in the output folder."),
) -> None:
    """Pick particles on membranes: one STAR per tomogram, and copies of the .h5 files with predicted distances."""
    from cryomem.io import read_particles_star
    from cryomem.pick import PREDICTED_DISTANCE_KEY, Picker, predict_membranes

    settings = build_settings(
        _PICK,
        _FLAGS,
        model=model,
        tta=tta,
        bandwidth_ang=bandwidth_ang,
        seed_threshold_ang=seed_threshold_ang,
        seed=seed,
    )
    paths = _membrane_files(membranes)
    picker = Picker.load(settings.model_paths)
    target = out_dir or (membranes if membranes.is_dir() else membranes.parent).resolve().parent / "particles"
    with StageProgress() as progress:
        written = predict_membranes(
            picker,
            paths,
            target,
            settings=settings,
            min_seeds=min_seeds,
            fixed_inplane_deg=inplane_deg,
            position="surface" if on_surface else "mid",
            overwrite=overwrite,
            progress=progress,
        )
    console.print(f"[bold green]done[/]: {len(paths)} membrane(s) of {len(written)} tomogram(s)", highlight=False)
    for star in written:
        console.print(f"  {len(read_particles_star(star)):>6} particles  {star}", highlight=False, soft_wrap=True)
    console.print(
        f"predicted distances (point_data '{PREDICTED_DISTANCE_KEY}') in copies of the membrane files in {target}; "
        "the input files are unchanged",
        highlight=False,
        soft_wrap=True,
    )


@pick_app.command("evaluate")
@one_line_errors
def evaluate_command(
    predicted: Path = typer.Argument(..., help="Predicted particles (STAR)."),
    ground_truth: Path = typer.Argument(..., help="Ground-truth particles (STAR)."),
    radius_nm: float = typer.Option(6.3, "--radius-nm", help="Match radius in nm."),
    per_membrane: bool = typer.Option(False, "--per-membrane", help="Also score each membrane id."),
    one_to_one: bool = typer.Option(False, "--one-to-one", help="Match each particle at most once."),
    voxel_size: float | None = typer.Option(
        None,
        "--voxel-size",
        help="Pixel size of the STAR coordinates in Å, for files that do not state it (a file that states one "
        "keeps it; when both do, a different --voxel-size is refused).",
    ),
    csv_out: Path | None = typer.Option(None, "--csv", help="Write the table to this CSV."),
) -> None:
    """Precision, recall and F1 of picks against ground truth (MemBrain v2 definition), per tomogram and pooled."""
    from cryomem.io import atomic_write_path
    from cryomem.pick import evaluate_files

    if csv_out is not None and (csv_out.is_dir() or not csv_out.parent.is_dir()):
        where = "is a folder" if csv_out.is_dir() else f"is in a folder that does not exist ({csv_out.parent})"
        raise ValueError(f"--csv {csv_out} {where}; pass a file path in an existing folder")
    table = evaluate_files(
        predicted,
        ground_truth,
        radius_nm=radius_nm,
        per_membrane=per_membrane,
        matching="one_to_one" if one_to_one else "nearest",
        voxel_size_ang=voxel_size,
    )
    console.print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"), highlight=False)
    if csv_out is not None:
        with atomic_write_path(csv_out) as tmp:
            table.to_csv(tmp, index=False)
        console.print(f"written to {csv_out}", highlight=False, soft_wrap=True)
