"""``cryomem segment [predict] TOMO...`` and ``segment train|finetune|skeletonize|evaluate``."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from typer.core import TyperGroup

from cryomem.cli._common import console, one_line_errors, read_settings_yaml


class _PredictByDefault(TyperGroup):
    """``cryomem segment tomo.mrc`` means ``cryomem segment predict tomo.mrc``."""

    def parse_args(self, ctx, args):
        if args and not args[0].startswith("-") and args[0] not in self.list_commands(ctx):
            args = ["predict", *args]
        return super().parse_args(ctx, args)


segment_app = typer.Typer(
    cls=_PredictByDefault,
    help="Membrane segmentation: `cryomem segment TOMO.mrc` with the shipped model, or train/finetune your own.",
    no_args_is_help=True,
)

MRC_SUFFIXES = (".mrc", ".rec", ".map")


def _tomograms(inputs: list[Path]) -> list[Path]:
    """Files as given, folders expanded to their MRC files; a clear error for anything else."""
    found: list[Path] = []
    for path in inputs:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in MRC_SUFFIXES)
            if not inside:
                raise ValueError(f"folder {path} holds no .mrc/.rec/.map tomograms")
            found.extend(inside)
        elif not path.exists():
            raise FileNotFoundError(f"tomogram {path} does not exist")
        else:
            found.append(path)
    return found


def _sheet_filter_summary(csv_path: Path) -> str:
    """One line: how many connected pieces the sheet prior kept, and why it dropped the others."""
    import pandas as pd

    decisions = pd.read_csv(csv_path)
    dropped = decisions.loc[~decisions["kept"].astype(bool), "reason"].value_counts()
    why = "; ".join(f"{n} {reason}" for reason, n in dropped.items())
    return f"sheet filter: kept {int(decisions['kept'].sum())} of {len(decisions)} pieces" + (
        f" (dropped: {why})" if why else ""
    )


@segment_app.command("predict")
@one_line_errors
def predict(
    tomograms: list[Path] = typer.Argument(..., help="Tomograms (MRC) or folders of them."),
    model: Path | None = typer.Option(None, help="Model file (default: the shipped membrane model)."),
    out_dir: Path | None = typer.Option(None, help="Folder for the outputs (default: next to each tomogram)."),
    voxel_size: float | None = typer.Option(None, "--voxel-size", help="Voxel size in Å; overrides the header."),
    threshold: float = typer.Option(0.5, help="Membrane probability in [0, 1] above which a voxel is membrane."),
    tta: bool = typer.Option(True, "--tta/--no-tta", help="8-fold flip test-time augmentation (8x slower)."),
    scores: bool = typer.Option(False, "--scores", help="Also write <stem>_scores.mrc (float16 probabilities)."),
    instances: bool = typer.Option(False, "--instances", help="Also write <stem>_instances.mrc (one id per membrane)."),
    min_instance_voxels: int = typer.Option(1000, help="Smallest connected membrane kept as an instance, voxels."),
    uncertainty: bool = typer.Option(False, "--uncertainty", help="Also write the s.d. of the TTA probabilities."),
    sheet_filter: bool = typer.Option(
        True,
        "--sheet-filter/--no-sheet-filter",
        help="Keep only sheet-like pieces (drop filaments, protein clusters, specks); see <stem>_sheet_filter.csv.",
    ),
    sheet_filter_rules: Path | None = typer.Option(
        None, help="Sheet filter rules JSON (default: the shipped ones, chosen on simulated tomograms)."
    ),
    batch_size: int | None = typer.Option(
        None, min=1, help="Windows per network call (default: 1 on the CPU, where more only costs memory; 4 on a GPU)."
    ),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    overwrite: bool = typer.Option(False, help="Replace existing outputs."),
) -> None:
    """Segment membranes in tomograms: writes <stem>_seg.mrc (uint8, 1 = membrane) per tomogram."""
    from rich.progress import Progress

    from cryomem.io import read_mrc
    from cryomem.segment import load_model, load_sheet_filter, segment_file, select_device, voxel_size_note

    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"--threshold is a membrane probability in [0, 1], got {threshold}")
    paths = _tomograms(tomograms)
    filter_model = load_sheet_filter(sheet_filter_rules) if sheet_filter else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    torch_device = select_device(device)
    network, card = load_model(model, torch_device)
    with Progress(console=console) as bar:
        for path in paths:
            note = voxel_size_note(card, read_mrc(path, voxel_size_ang=voxel_size, mmap=True).voxel_size_ang, path.name)
            if note:
                console.print(note, style="yellow", highlight=False)
            task = bar.add_task(f"segmenting {path.name}", total=1.0)
            written = segment_file(
                path,
                network,
                out_dir or path.parent,
                model_voxel_size_ang=card["voxel_size_ang"],
                window=card["inference_window"],
                divisor=network.config.divisor,
                voxel_size_ang=voxel_size,
                threshold=threshold,
                tta=tta,
                write_scores=scores,
                write_instances=instances,
                min_instance_voxels=min_instance_voxels,
                write_uncertainty=uncertainty,
                sheet_filter=sheet_filter,
                sheet_filter_rules=filter_model,
                batch_size=batch_size,
                device=torch_device,
                overwrite=overwrite,
                progress=lambda stage, fraction, task=task, name=path.name: bar.update(
                    task, completed=fraction, description=f"{stage}: {name}"
                ),
            )
            bar.update(task, completed=1.0)
            for role, file in written.items():
                console.print(f"  {role:<12} {file}", highlight=False)
            if "sheet_filter" in written:
                console.print(f"  {_sheet_filter_summary(written['sheet_filter'])}", highlight=False)


@segment_app.command("train")
@one_line_errors
def train_command(
    data_dir: Path = typer.Argument(..., help="Folder with imagesTr/labelsTr/imagesVal/labelsVal."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for checkpoints, logs and model.pt."),
    config_file: Path | None = typer.Option(None, "--config", help="YAML with training settings."),
    epochs: int | None = typer.Option(None, help="Epochs (overrides the config)."),
    resume: bool = typer.Option(False, help="Continue from OUT/checkpoint_last.pt."),
    init_model: Path | None = typer.Option(None, help="Start from the weights of this model file."),
) -> None:
    """Train a segmentation model from labelled patches (0 background, 1 membrane, 2 ignore).

    Several GPUs: `torchrun --nproc_per_node N -m cryomem segment train ...` (torch DDP, one process per GPU).
    """
    _run_training(data_dir, out_dir, config_file, epochs, resume, init_model=init_model, finetune=False)


@segment_app.command("finetune")
@one_line_errors
def finetune_command(
    data_dir: Path = typer.Argument(..., help="Folder with imagesTr/labelsTr/imagesVal/labelsVal."),
    model: Path | None = typer.Option(None, help="Model to start from (default: the shipped model)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for checkpoints, logs and model.pt."),
    epochs: int = typer.Option(100, max=100, help="Epochs (at most 100)."),
    surface_dice: bool = typer.Option(False, "--surface-dice", help="Add the Surface-Dice loss."),
    tolerance: float = typer.Option(0.05, help="Stop when validation Dice falls this far below the start model's."),
) -> None:
    """Fine-tune a model on your own annotations (learning rate 1e-5, early stop on validation)."""
    from cryomem.segment import DEFAULT_MODEL_PATH, read_model_card

    init = model or DEFAULT_MODEL_PATH
    card = read_model_card(init)
    architecture = {k: v for k, v in card["architecture"].items() if k not in ("in_channels", "out_channels")}
    base = {
        **card.get("training", {}).get("config", {}),
        **architecture,
        "voxel_size_ang": card["voxel_size_ang"],
        "inference_window": card["inference_window"],
        "learning_rate": 1e-5,
        "epochs": epochs,
        "early_stop_tolerance": tolerance,
    }
    if surface_dice:
        base["surface_dice_weight"] = 1.0
    _run_training(data_dir, out_dir, None, None, False, init_model=init, finetune=True, base=base)


def _run_training(data_dir, out_dir, config_file, epochs, resume, *, init_model, finetune, base=None) -> None:
    from cryomem.segment import TrainConfig, train

    settings = {**(base or {}), **read_settings_yaml(config_file)}
    if epochs is not None:
        settings["epochs"] = epochs
    config = TrainConfig.model_validate(settings)

    start: dict = {}

    def report(row: dict) -> None:
        scores = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k.startswith("val_"))
        if row["epoch"] == 0:
            start.update(row)
            console.print(f"starting model: {scores}", highlight=False)
            return
        console.print(
            f"epoch {row['epoch']}/{config.epochs}: loss {row['train_loss']:.4f}, {scores} ({row['seconds']:.0f} s)",
            highlight=False,
        )

    path = train(data_dir, out_dir, config, init_model=init_model, resume=resume, report=report)
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun only the first process reports
    console.print(f"[bold green]done[/]: {'fine-tuned' if finetune else 'trained'} model in {path}", highlight=False)
    _warn_if_no_gain(path, start)


def _warn_if_no_gain(path: Path, start: dict) -> None:
    """Say so when no epoch beat the starting model on validation Surface-Dice."""
    if "val_surface_dice" not in start or not path.is_file():
        return
    from cryomem.segment import read_model_card

    best = read_model_card(path).get("validation", {}).get("surface_dice")
    if best is not None and best < start["val_surface_dice"]:
        console.print(
            f"[bold yellow]note[/]: no epoch beat the starting model on validation Surface-Dice "
            f"({best:.4f} < {start['val_surface_dice']:.4f}); keep using the starting model, or train longer "
            "or with a lower learning rate",
            highlight=False,
        )


@segment_app.command("skeletonize")
@one_line_errors
def skeletonize_command(
    segmentation: Path = typer.Argument(..., help="Segmentation MRC (membrane > 0)."),
    out: Path | None = typer.Option(None, help="Output file (default: <stem>_skel.mrc next to the input)."),
    voxel_size: float | None = typer.Option(None, "--voxel-size", help="Voxel size in Å; overrides the header."),
) -> None:
    """Thin a membrane segmentation to one-voxel-thick mid-surfaces."""
    from cryomem.io import read_mrc, write_mrc
    from cryomem.segment import skeletonize_membranes

    volume = read_mrc(segmentation, voxel_size_ang=voxel_size)
    skeleton = skeletonize_membranes(volume.data_zyx > 0, voxel_size_ang=volume.voxel_size_ang)
    out = out or segmentation.with_name(segmentation.name.rsplit(".", 1)[0] + "_skel.mrc")
    write_mrc(out, skeleton, voxel_size_ang=volume.voxel_size_ang, origin_xyz_ang=volume.origin_xyz_ang)
    console.print(f"[bold green]done[/]: {int(skeleton.sum())} skeleton voxels in {out}", highlight=False)


@segment_app.command("evaluate")
@one_line_errors
def evaluate_command(
    predictions: Path = typer.Argument(..., help="Predicted segmentation (file or folder)."),
    ground_truth: Path = typer.Argument(..., help="Labels 0/1/2 (file or folder with the same names)."),
    csv_out: Path | None = typer.Option(None, "--csv", help="Write per-file and pooled scores to this CSV."),
) -> None:
    """Dice and Surface-Dice of predictions against labels (label 2 ignored)."""
    from cryomem.segment import evaluate_segmentation, write_evaluation_csv

    table = evaluate_segmentation(predictions, ground_truth)
    console.print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"), highlight=False)
    if csv_out is not None:
        write_evaluation_csv(table, csv_out)
        console.print(f"written to {csv_out}", highlight=False)
