"""``cryomem segment [predict] TOMO...`` and ``segment train|finetune|skeletonize|evaluate``."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

from cryomem.cli._common import build_settings, console, one_line_errors, setting_option
from cryomem.cli._segment_inputs import (
    check_headers_and_outputs,
    check_values,
    refuse_colliding_outputs,
    tomograms_in,
)
from cryomem.cli._training_settings import training_config
from cryomem.geometry._surface_settings import SurfaceSettings
from cryomem.segment._finetune_settings import FinetuneSettings
from cryomem.segment._settings import SegmentSettings

if TYPE_CHECKING:
    from cryomem.segment import SegmentModelCard


_SEGMENT = SegmentSettings
_SURFACES = SurfaceSettings
_FINETUNE = FinetuneSettings


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


def _sheet_filter_summary(csv_path: Path) -> str:
    """One line: how many connected pieces the sheet prior kept, and why it dropped the others."""
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    dropped = Counter(row["reason"] for row in rows if row["kept"] != "True")
    why = "; ".join(f"{n} {reason}" for reason, n in dropped.most_common())
    kept = sum(row["kept"] == "True" for row in rows)
    return f"sheet filter: kept {kept} of {len(rows)} pieces" + (f" (dropped: {why})" if why else "")


@segment_app.command("predict")
@one_line_errors
def predict(
    tomograms: list[Path] = typer.Argument(..., help="Tomograms (MRC) or folders of them."),
    model: Path | None = typer.Option(None, help="Model file (default: the shipped membrane model)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for the outputs (default: next to each tomogram)."),
    old_out_dir: Path | None = typer.Option(None, "--out-dir", hidden=True, help="Old name of --out."),
    voxel_size: float | None = typer.Option(None, "--voxel-size", help="Voxel size in Å; overrides the header."),
    threshold: float = setting_option(_SEGMENT, "threshold"),
    tta: bool = setting_option(_SEGMENT, "tta", "--tta/--no-tta"),
    scores: bool = typer.Option(False, "--scores", help="Also write <stem>_scores.mrc (float16 probabilities)."),
    instances: bool = typer.Option(False, "--instances", help="Also write <stem>_instances.mrc (one id per membrane)."),
    min_instance_voxels: int = setting_option(
        _SURFACES, "min_voxels", "--min-instance-voxels", help_extra=" (--instances)"
    ),
    uncertainty: bool = typer.Option(False, "--uncertainty", help="Also write the s.d. of the TTA probabilities."),
    sheet_filter: bool = setting_option(_SEGMENT, "sheet_filter", "--sheet-filter/--no-sheet-filter"),
    sheet_filter_rules: Path | None = typer.Option(
        None, help="Sheet filter rules JSON (default: the shipped ones, chosen on simulated tomograms)."
    ),
    batch_size: int | None = setting_option(_SEGMENT, "batch_size"),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    overwrite: bool = typer.Option(False, help="Replace existing outputs."),
) -> None:
    """Segment membranes in tomograms: writes <stem>_seg.mrc (uint8, 1 = membrane) per tomogram."""
    from rich.progress import Progress

    from cryomem.segment import Segmenter, SegmentOutputs, load_sheet_filter, segment_file

    if not 0.0 <= threshold <= 1.0:
        default = _SEGMENT.model_fields["threshold"].default
        raise ValueError(f"--threshold is a membrane probability in [0, 1], got {threshold}; the default is {default}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1 window, got {batch_size}; leave it out for the device's default")
    if min_instance_voxels < 0:
        raise ValueError(f"--min-instance-voxels must be >= 0, got {min_instance_voxels}")
    if uncertainty and not tta:
        raise ValueError("--uncertainty is the spread of the 8 flip predictions: drop --no-tta or --uncertainty")
    if old_out_dir is not None and out_dir is not None and old_out_dir != out_dir:
        raise ValueError(
            f"--out {out_dir} and --out-dir {old_out_dir} name two folders; --out-dir is the old "
            "name of --out: pass --out only"
        )
    out_dir = out_dir or old_out_dir
    flags = {"model": "--model", "sheet_filter": "--sheet-filter"}
    settings = build_settings(
        _SEGMENT, flags, model=model, threshold=threshold, tta=tta, batch_size=batch_size, sheet_filter=sheet_filter
    )
    paths, skipped = tomograms_in(tomograms)
    refuse_colliding_outputs(paths, out_dir)
    voxel_sizes = check_headers_and_outputs(paths, out_dir, voxel_size, overwrite)
    filter_model = load_sheet_filter(sheet_filter_rules) if settings.sheet_filter else None
    segmenter = Segmenter.load(settings.model, device)
    outputs = SegmentOutputs(
        scores=scores, instances=instances, uncertainty=uncertainty, min_instance_voxels=min_instance_voxels
    )
    check_values(paths, voxel_size)
    if skipped:
        console.print(
            f"note: skipped {len(skipped)} cryomem outputs found beside the tomograms "
            f"({', '.join(p.name for p in skipped[:4])}{', ...' if len(skipped) > 4 else ''}); "
            "name a file to segment it anyway",
            style="yellow",
            highlight=False,
        )

    def note(text: str) -> None:
        console.print(text, style="yellow", highlight=False)

    with Progress(console=console) as bar:
        for path in paths:
            size_note = segmenter.voxel_size_note(voxel_sizes[path], path.name)
            if size_note:
                note(size_note)
            task = bar.add_task(f"segmenting {path.name}", total=1.0)
            written = segment_file(
                path,
                segmenter,
                out_dir or path.parent,
                settings=settings,
                outputs=outputs,
                voxel_size_ang=voxel_size,
                sheet_filter_rules=filter_model,
                overwrite=overwrite,
                progress=lambda stage, fraction, task=task, name=path.name: bar.update(
                    task, completed=fraction, description=f"{stage}: {name}"
                ),
                notes=note,
            )
            bar.update(task, completed=1.0)
            for role, file in written.items():
                console.print(f"  {role:<12} {file}", highlight=False)
            if "sheet_filter" in written:
                console.print(f"  {_sheet_filter_summary(written['sheet_filter'])}", highlight=False)


@segment_app.command("train")
@one_line_errors
def train_command(
    data_dir: Path = typer.Argument(..., help="Folder with imagesTr/labelsTr (and optionally imagesVal/labelsVal)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for checkpoints, logs and model.pt."),
    config_file: Path | None = typer.Option(None, "--config", help="YAML with training settings."),
    epochs: int | None = typer.Option(None, help="Epochs (overrides the config)."),
    resume: bool = typer.Option(False, help="Continue from OUT/checkpoint_last.pt."),
    init_model: Path | None = typer.Option(None, help="Start from the weights of this model file."),
) -> None:
    """Train a segmentation model from labelled patches (0 background, 1 membrane, 2 ignore).

    Without validation patches model.pt holds the last epoch's weights. Several GPUs:
    `torchrun --nproc_per_node N -m cryomem segment train ...` (torch DDP, one process per GPU).
    """
    from cryomem.segment import TrainConfig, read_model_card

    base, source = {}, ""
    if init_model is not None:  # the network comes from the model file: its architecture is fixed
        base, source = _architecture(read_model_card(init_model)), f" of --init-model {init_model}"
    flags = {"epochs": ("--epochs", epochs)}
    config = training_config(TrainConfig, config_file, base=base, base_source=source, flags=flags)
    _check_architecture(config, base, config_file, init_model)
    _run_training(data_dir, out_dir, config, resume, init_model=init_model, finetune=False)


def _finetune_help(name: str) -> str:
    field = _FINETUNE.model_fields[name]
    return f"{field.description[:1].upper()}{field.description[1:]} (default {field.default})."


@segment_app.command("finetune")
@one_line_errors
def finetune_command(
    data_dir: Path = typer.Argument(..., help="Folder with imagesTr/labelsTr (and optionally imagesVal/labelsVal)."),
    model: Path | None = typer.Option(None, help="Model to start from (default: the shipped model)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for checkpoints, logs and model.pt."),
    config_file: Path | None = typer.Option(
        None, "--config", help="YAML with training settings, as for `segment train` (the architecture is the model's)."
    ),
    epochs: int | None = typer.Option(None, help="Epochs (at most 100; default: the config's, else 100)."),
    surface_dice: bool = typer.Option(False, "--surface-dice", help="Add the Surface-Dice loss."),
    tolerance: float | None = typer.Option(
        None, help="Stop when validation Dice falls this far below the start model's (default 0.05)."
    ),
    patience: int | None = typer.Option(None, "--patience", help=_finetune_help("early_stopping_patience")),
    keep_original: float | None = typer.Option(None, "--keep-original", help=_finetune_help("keep_original")),
    original_data: Path | None = typer.Option(
        None, help="The starting model's training data folder, when its card's training.data_dir is elsewhere."
    ),
    resume: bool = typer.Option(False, help="Continue from OUT/checkpoint_last.pt."),
) -> None:
    """Fine-tune a model on your own annotations (learning rate 1e-5, early stop on validation).

    Recipe settings (patch size, iterations per epoch...) come from the model's card unless --config
    sets them; batch size, loader workers and threads follow this machine. With --keep-original
    above 0, part of the starting model's training data joins yours and its validation patches are
    scored too: the best epoch by your validation Surface-Dice is kept, never one whose original
    Surface-Dice fell more than forgetting_tolerance (a --config setting) below the starting model's.
    """
    from cryomem.segment import DEFAULT_MODEL_PATH, TrainConfig, read_model_card
    from cryomem.segment._train import DEVICE_SETTINGS

    init = model or DEFAULT_MODEL_PATH
    card = read_model_card(init)
    recipe = {k: v for k, v in card.training_config.items() if k not in DEVICE_SETTINGS}
    base = {
        **{k: v for k, v in recipe.items() if k in TrainConfig.model_fields},
        **_architecture(card),
        **FinetuneSettings().model_dump(),
    }
    flags = {
        "epochs": ("--epochs", epochs),
        "early_stop_tolerance": ("--tolerance", tolerance),
        "early_stopping_patience": ("--patience", patience),
        "keep_original": ("--keep-original", keep_original),
        "surface_dice_weight": ("--surface-dice", 1.0 if surface_dice else None),
    }
    config = training_config(TrainConfig, config_file, base=base, base_source=f" of model {init}", flags=flags)
    if config.epochs > 100:
        raise ValueError(
            f"fine-tuning epochs must be less than or equal to 100, got {config.epochs}; "
            "for a longer run use `cryomem segment train --init-model`"
        )
    _check_architecture(config, base, config_file, init)
    original, note = _original_data(card, original_data, data_dir, config.keep_original)
    _run_training(data_dir, out_dir, config, resume, init_model=init, finetune=True, original_data=original, note=note)


def _original_data(card, given: Path | None, data_dir: Path, fraction: float) -> tuple[Path | None, str]:
    """The starting model's data folder to keep part of, or None with a one-line note saying why not."""
    if fraction == 0:
        return None, ""
    if given is not None:
        if not given.is_dir():
            raise FileNotFoundError(f"--original-data {given} is not a folder; pass the starting model's training data")
        return given, ""
    recorded = card.training.data_dir
    if not recorded or not Path(recorded).is_dir():
        return None, (
            f"note: the starting model's training data ({recorded or 'not recorded'}) is not here: fine-tuning on "
            "your data only (pass --original-data DIR to keep part of it)"
        )
    if Path(recorded).resolve() == data_dir.resolve():
        return None, "note: the starting model was trained on this data folder: nothing more to keep from it"
    return Path(recorded), ""


def _architecture(card: SegmentModelCard) -> dict:
    """The settings a model file fixes: its network's shape, voxel size and inference window."""
    keys = ("base_channels", "max_channels", "depth", "deep_supervision_levels")
    return {
        **{k: card.architecture[k] for k in keys if k in card.architecture},
        "voxel_size_ang": card.voxel_size_ang,
        "inference_window": card.inference_window,
    }


def _check_architecture(config, base: dict, config_file: Path | None, model: Path | None) -> None:
    """Refuse a --config that changes the network of the model training starts from."""
    changed = [k for k in ("base_channels", "max_channels", "depth", "deep_supervision_levels")
               if k in base and getattr(config, k) != base[k]]  # fmt: skip
    if changed:
        sets = ", ".join(f"{k} = {getattr(config, k)} (model: {base[k]})" for k in changed)
        raise ValueError(
            f"--config {config_file} sets {sets}, but the network comes from {model}; remove these settings"
        )


def _run_training(data_dir, out_dir, config, resume, *, init_model, finetune, original_data=None, note="") -> None:
    from cryomem.segment import read_model_card, train

    def started(used, device) -> None:
        if note:
            console.print(note, style="yellow", highlight=False, soft_wrap=True)
        console.print(
            f"training on {device.type}: batch size {used.batch_size}, {used.loader_workers} loader worker(s), "
            f"patch {used.patch_size}, {used.iterations_per_epoch} iterations per epoch",
            highlight=False,
            soft_wrap=True,
        )

    start: dict = {}

    def report(row: dict) -> None:
        scores = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k.startswith(("val_", "original_val_")))
        if row["epoch"] == 0:
            start.update(row)
            console.print(f"starting model: {scores}", highlight=False)
            return
        scores = f", {scores}" if scores else ""
        console.print(
            f"epoch {row['epoch']}/{config.epochs}: loss {row['train_loss']:.4f}{scores} ({row['seconds']:.0f} s)",
            highlight=False,
        )

    path = train(
        data_dir, out_dir, config, init_model=init_model, resume=resume, report=report, started=started,
        original_data=original_data,
    )  # fmt: skip
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun only the first process reports
    selected = read_model_card(path).training.selected
    console.print(
        f"[bold green]done[/]: {'fine-tuned' if finetune else 'trained'} model in {path}"
        + (f" ({selected})" if selected else ""),
        highlight=False,
        soft_wrap=True,
    )
    _warn_if_no_gain(path, start)


def _warn_if_no_gain(path: Path, start: dict) -> None:
    """Say so when no epoch beat the starting model on validation Surface-Dice."""
    if "val_surface_dice" not in start or not path.is_file():
        return
    from cryomem.segment import read_model_card

    best = read_model_card(path).validation.get("surface_dice")
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
    overwrite: bool = typer.Option(False, help="Replace an existing output file."),
) -> None:
    """Thin a membrane segmentation to one-voxel-thick mid-surfaces."""
    from cryomem.io import read_mrc, skeleton_path, write_mrc
    from cryomem.segment import skeletonize_membranes

    out = out or skeleton_path(segmentation)
    if out.exists() and out.resolve() == segmentation.resolve():
        raise ValueError(f"--out {out} is the input segmentation; pass another file to --out")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; pass a file name such as {out / 'seg_skel.mrc'}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it, or another --out")
    volume = read_mrc(segmentation, voxel_size_ang=voxel_size)
    try:
        skeleton = skeletonize_membranes(volume.data_zyx, voxel_size_ang=volume.voxel_size_ang)
    except ValueError as err:
        raise ValueError(f"{segmentation.name}: {err}") from None
    write_mrc(out, skeleton, **volume.placement)
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

    if csv_out is not None:
        if csv_out.is_dir():
            raise ValueError(f"--csv {csv_out} is a folder; pass a file name such as {csv_out / 'scores.csv'}")
        inputs = (predictions.resolve(), ground_truth.resolve())
        if csv_out.suffix.lower() != ".csv" or csv_out.resolve() in inputs:
            raise ValueError(f"--csv {csv_out} must name a .csv file other than the inputs; pass e.g. scores.csv")
        if not csv_out.parent.is_dir():
            raise FileNotFoundError(f"--csv {csv_out}: folder {csv_out.parent} does not exist; create it first")
    table = evaluate_segmentation(predictions, ground_truth)
    console.print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"), highlight=False)
    if csv_out is not None:
        write_evaluation_csv(table, csv_out)
        console.print(f"written to {csv_out}", highlight=False)
