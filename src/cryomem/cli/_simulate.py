"""``cryomem simulate tomogram|dataset|config``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

from cryomem.cli._common import (
    StageProgress,
    console,
    one_line_errors,
    parse_floats,
    parse_ints,
    parse_weights,
    read_settings_yaml,
)
from cryomem.simulate._config import SimulationConfig
from cryomem.simulate._dataset_config import DatasetConfig

simulate_app = typer.Typer(help="Synthetic tomograms with exact ground truth.", no_args_is_help=True)
_SIMULATION_DEFAULTS = SimulationConfig()  # the owner of the defaults shown in the help texts below
_DATASET_DEFAULTS = DatasetConfig()


def print_summary(folder: Path, files: dict[str, str], sim) -> None:
    """What was simulated and where it went."""
    phantom = sim.phantom
    area_um2 = sum(m.area_um2 for m in phantom.membranes)
    console.print(
        f"[bold green]done[/] in {sim.timings_s['total']:.1f} s: {len(phantom.membranes)} membranes "
        f"({area_um2:.3f} µm² inside the volume), {len(phantom.membrane_proteins)} membrane proteins "
        f"({len(phantom.membrane_proteins) / area_um2 if area_um2 else 0:.0f} per µm²), "
        f"{len(phantom.cytosolic_proteins)} cytosolic proteins, {len(phantom.filaments)} filaments"
        + (f", {len(phantom.hard_negatives)} hard negatives" if phantom.hard_negatives else ""),
        highlight=False,
    )
    console.print(f"written to {folder}/", highlight=False)
    for role, name in files.items():
        console.print(f"  {role:<20} {name}", highlight=False)


# Each settings flag of `simulate tomogram` and the SimulationConfig field(s) it sets; the help text shows
# the field's default, read from the config model (its one owner).
_TOMOGRAM_FIELDS: dict[str, str | tuple[str, ...]] = {
    "shape": "shape_zyx",
    "voxel_size": "voxel_size_ang",
    "seed": "seed",
    "membranes": "membranes.kinds",
    "membrane_contrast": "membranes.density_factor",
    "leaflet_asymmetry": "membranes.leaflet_peak_ratio",
    "membrane_occupancy": "membranes.occupancy",
    "protein_occupancy": "membrane_proteins.occupancy",
    "protein_concentration": "membrane_proteins.concentration_per_um2",
    "clustered_fraction": "membrane_proteins.clustered_fraction",
    "template": "membrane_proteins.template_files",
    "membrane_atomic_model": "membrane_proteins.atomic_model_files",
    "atomic_model": "cytosol.atomic_model_files",
    "distractor_classes": "cytosol.procedural_classes",
    "distractor_size": "cytosol.procedural_size_nm",
    "distractors": "cytosol.procedural_kinds",
    "distractor_clusters": "cytosol.cluster_fraction",
    "gold": "hard_negatives.gold_fiducials",
    "ice": "hard_negatives.ice_crystals",
    "carbon_edges": "hard_negatives.carbon_edges",
    "granules": "hard_negatives.granules",
    "cytosolic_occupancy": "cytosol.occupancy",
    "microtubules": "cytosol.microtubules",
    "actin": "cytosol.actin_filaments",
    "protofilaments": "cytosol.microtubule_protofilaments",
    "intermediate_filaments": "cytosol.intermediate_filaments",
    "bundles": "cytosol.filament_bundles",
    "actin_networks": "cytosol.actin_networks",
    "snr": "microscope.snr",
    "tilt_range": ("microscope.tilt_min_deg", "microscope.tilt_max_deg"),
    "tilt_step": "microscope.tilt_step_deg",
    "defocus": "microscope.defocus_um",
    "voltage": "microscope.voltage_kv",
    "cs": "microscope.cs_mm",
    "amplitude_contrast": "microscope.amplitude_contrast",
    "phase_flip": "microscope.phase_flip",
    "misalignment": "microscope.misalignment_px",
    "reconstruction": "microscope.reconstruction",
    "sirt_iterations": "microscope.sirt_iterations",
    "defocus_gradient": "microscope.defocus_gradient",
    "dose": "microscope.total_dose_e_per_ang2",
    "detector_mtf": "microscope.detector_mtf",
    "noise_color": "microscope.noise_exponent",
    "denoise": "microscope.denoise",
}
# The same for `simulate dataset` and DatasetConfig.
_DATASET_FIELDS: dict[str, str | tuple[str, ...]] = {
    "n_tomograms": "n_tomograms",
    "shape": "shape_zyx",
    "patch_size": "patch_size",
    "patches_per_tomogram": "patches_per_tomogram",
    "val_fraction": "val_fraction",
    "voxel_size_range": "voxel_size_ang",
    "snr_range": "snr",
    "seed": "seed",
}
# Flags given as text (lists, pairs, mixes) and how their text becomes the field's value.
_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "shape": lambda text, flag: parse_ints(text, 3, flag),
    "protofilaments": lambda text, flag: parse_ints(text, 2, flag),
    "membranes": parse_weights,
    "distractors": parse_weights,
    "membrane_contrast": lambda text, flag: parse_floats(text, 2, flag),
    "leaflet_asymmetry": lambda text, flag: parse_floats(text, 2, flag),
    "distractor_size": lambda text, flag: parse_floats(text, 2, flag),
    "tilt_range": lambda text, flag: parse_floats(text, 2, flag),
    "voxel_size_range": lambda text, flag: parse_floats(text, 2, flag),
    "snr_range": lambda text, flag: parse_floats(text, 2, flag),
    "template": lambda paths, flag: tuple(paths),
    "membrane_atomic_model": lambda paths, flag: tuple(paths),
    "atomic_model": lambda paths, flag: tuple(paths),
}


def _shown(value: Any) -> str:
    """A default as a user types it on the command line."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (tuple, list)):
        return ",".join(_shown(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _default_of(model: BaseModel, fields: str | tuple[str, ...]) -> str:
    values = []
    for field in (fields,) if isinstance(fields, str) else fields:
        value: Any = model
        for part in field.split("."):
            value = getattr(value, part)
        values.append(value)
    return _shown(values[0] if len(values) == 1 else values)


def _option(model: BaseModel, fields: str | tuple[str, ...], text: str, *flags: str, show_default: bool) -> Any:
    shown = f" (default {_default_of(model, fields)})" if show_default else ""
    return typer.Option(None, *flags, help=f"{text}{shown}.")


def _tomo_option(parameter: str, text: str, *flags: str, show_default: bool = True) -> Any:
    """The option of a `simulate tomogram` flag, its default read from :class:`SimulationConfig`."""
    return _option(_SIMULATION_DEFAULTS, _TOMOGRAM_FIELDS[parameter], text, *flags, show_default=show_default)


def _dataset_option(parameter: str, text: str) -> Any:
    """The option of a `simulate dataset` flag, its default read from :class:`DatasetConfig`."""
    return _option(_DATASET_DEFAULTS, _DATASET_FIELDS[parameter], text, show_default=True)


def _overrides(params: dict[str, Any], fields: dict[str, str | tuple[str, ...]]) -> dict[str, Any]:
    """The config fields set by the flags the user gave (text parsed; a pair flag sets two fields)."""
    overrides: dict[str, Any] = {}
    for parameter, field in fields.items():
        value = params.get(parameter)
        if value is None or value == []:
            continue
        if parameter in _PARSERS:
            value = _PARSERS[parameter](value, "--" + parameter.replace("_", "-"))
        overrides.update(zip(field, value, strict=True) if isinstance(field, tuple) else {field: value})
    return overrides


@simulate_app.command("tomogram")
@one_line_errors
def tomogram(
    ctx: typer.Context,
    out_dir: Path = typer.Argument(..., help="New folder for the tomogram and its ground truth."),
    config_file: Path | None = typer.Option(
        None, "--config", help="YAML file with any settings (see `cryomem simulate config`)."
    ),
    name: str = typer.Option("tomo", help="File name stem of every output."),
    shape: str | None = _tomo_option("shape", "Volume shape in voxels as z,y,x"),
    voxel_size: float | None = _tomo_option("voxel_size", "Voxel size in Å", "--voxel-size"),
    seed: int | None = _tomo_option("seed", "Random seed; the same seed gives identical files"),
    membranes: str | None = _tomo_option(
        "membranes",
        "Membrane mix as kind=weight, kinds: sphere, ellipsoid, torus, sheet, stack, double, small_vesicle",
        show_default=False,
    ),
    membrane_contrast: str | None = _tomo_option("membrane_contrast", "Per-membrane density factor drawn from min,max"),
    leaflet_asymmetry: str | None = _tomo_option(
        "leaflet_asymmetry", "Outer/inner leaflet peak ratio drawn from min,max (1,1 = symmetric)"
    ),
    membrane_occupancy: float | None = _tomo_option(
        "membrane_occupancy", "Target fraction of the volume that is membrane"
    ),
    protein_occupancy: float | None = _tomo_option(
        "protein_occupancy", "Target fraction of membrane area covered by membrane proteins"
    ),
    protein_concentration: float | None = _tomo_option(
        "protein_concentration", "Target membrane proteins per µm² (overrides --protein-occupancy)", show_default=False
    ),
    clustered_fraction: float | None = _tomo_option(
        "clustered_fraction", "Fraction of membrane proteins placed in clusters"
    ),
    template: list[Path] | None = _tomo_option(
        "template", "MRC template of a membrane protein (z = membrane normal); repeatable", show_default=False
    ),
    membrane_atomic_model: list[Path] | None = _tomo_option(
        "membrane_atomic_model",
        "PDB/mmCIF model of a membrane protein (z = normal, mass centre on the mid-plane); repeatable",
        show_default=False,
    ),
    atomic_model: list[Path] | None = _tomo_option(
        "atomic_model", "PDB/mmCIF model of a cytosolic protein; repeatable (never downloaded)", show_default=False
    ),
    distractor_classes: int | None = _tomo_option(
        "distractor_classes", "Random protein-like distractor templates generated per tomogram; 0 = off"
    ),
    distractor_size: str | None = _tomo_option("distractor_size", "Distractor sizes in nm as min,max"),
    distractors: str | None = _tomo_option(
        "distractors",
        "Distractor mix as kind=weight, kinds: pseudo_atomic, symmetric, cage, ring, rod",
        show_default=False,
    ),
    distractor_clusters: float | None = _tomo_option(
        "distractor_clusters", "Fraction of non-ribosome cytosolic proteins placed in clusters"
    ),
    gold: int | None = _tomo_option("gold", "Gold fiducials (5-15 nm, very dense) per tomogram"),
    ice: int | None = _tomo_option("ice", "Faceted ice contaminants at the top/bottom surface"),
    carbon_edges: int | None = _tomo_option("carbon_edges", "Carbon-film / lamella-edge slabs, 0-3"),
    granules: int | None = _tomo_option("granules", "Dense 20-80 nm granules"),
    cytosolic_occupancy: float | None = _tomo_option(
        "cytosolic_occupancy", "Target volume fraction of cytosolic proteins"
    ),
    microtubules: int | None = _tomo_option("microtubules", "Number of microtubules"),
    actin: int | None = _tomo_option("actin", "Number of actin filaments"),
    protofilaments: str | None = _tomo_option(
        "protofilaments", "Microtubule protofilament numbers drawn from min,max within 11-16"
    ),
    intermediate_filaments: int | None = _tomo_option(
        "intermediate_filaments", "Number of smooth ~10 nm intermediate-filament-like rods"
    ),
    bundles: int | None = _tomo_option("bundles", "Number of parallel actin bundles"),
    actin_networks: int | None = _tomo_option("actin_networks", "Number of branched (~70°) actin networks"),
    snr: float | None = _tomo_option("snr", "Signal-to-noise ratio of each tilt image"),
    tilt_range: str | None = _tomo_option("tilt_range", "Tilt range in degrees as min,max"),
    tilt_step: float | None = _tomo_option("tilt_step", "Tilt step in degrees"),
    defocus: float | None = _tomo_option("defocus", "Underfocus in µm"),
    voltage: float | None = _tomo_option("voltage", "Acceleration voltage in kV"),
    cs: float | None = _tomo_option("cs", "Spherical aberration in mm"),
    amplitude_contrast: float | None = _tomo_option("amplitude_contrast", "Amplitude contrast fraction"),
    phase_flip: bool | None = _tomo_option(
        "phase_flip", "Correct the CTF by phase flipping", "--phase-flip/--no-phase-flip"
    ),
    misalignment: float | None = _tomo_option("misalignment", "Per-tilt random shift, standard deviation in pixels"),
    reconstruction: str | None = _tomo_option("reconstruction", "Reconstruction: wbp or sirt"),
    sirt_iterations: int | None = _tomo_option("sirt_iterations", "SIRT iterations"),
    defocus_gradient: bool | None = _tomo_option(
        "defocus_gradient", "Defocus varies across tilted images", "--defocus-gradient/--no-defocus-gradient"
    ),
    dose: float | None = _tomo_option("dose", "Total exposure in e/Å² with accumulated radiation damage; 0 = off"),
    detector_mtf: bool | None = _tomo_option(
        "detector_mtf", "Blur images by a detector MTF", "--detector-mtf/--no-detector-mtf"
    ),
    noise_color: float | None = _tomo_option("noise_color", "Noise power ∝ 1/f^x: 0 white, 1 pink, 2 brown"),
    denoise: str | None = _tomo_option("denoise", "Denoised look after reconstruction: none, lowpass or diffusion"),
    save_density: bool = typer.Option(False, help="Also write the noise-free density."),
    save_tilt_series: bool = typer.Option(False, help="Also write the tilt series (MRC stack) and its .tlt angles."),
    overwrite: bool = typer.Option(False, help="Replace OUT_DIR if it exists."),
) -> None:
    """Simulate one tomogram: MRC volumes, labels, meshes, STAR tables, JSON ground truth and a PNG preview."""
    from cryomem.simulate import load_config, merge_config, simulate_to_folder
    from cryomem.simulate._atomic_models import read_atomic_model
    from cryomem.simulate._write import check_output_folder

    overrides = _overrides(ctx.params, _TOMOGRAM_FIELDS)
    config = load_config(config_file, **overrides) if config_file else merge_config(SimulationConfig(), **overrides)
    for path in [*(template or []), *(membrane_atomic_model or []), *(atomic_model or [])]:  # before progress
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path} does not exist; check the path given to --template or --atomic-model")
    for path in [*(membrane_atomic_model or []), *(atomic_model or [])]:
        read_atomic_model(path)  # a file gemmi cannot read is refused before the simulation starts
    check_output_folder(out_dir, name, overwrite=overwrite)
    with StageProgress() as progress:
        folder, files, sim = simulate_to_folder(
            config,
            out_dir,
            name=name,
            overwrite=overwrite,
            save_density=save_density,
            save_tilt_series=save_tilt_series,
            progress=progress,
        )
    print_summary(folder, files, sim)


@simulate_app.command("dataset")
@one_line_errors
def dataset(
    ctx: typer.Context,
    out_dir: Path = typer.Argument(..., help="New folder for imagesTr/labelsTr/imagesVal/labelsVal."),
    config_file: Path | None = typer.Option(
        None, "--config", help="YAML file with dataset settings (see `cryomem simulate config --dataset`)."
    ),
    n_tomograms: int | None = _dataset_option("n_tomograms", "Number of tomograms to simulate"),
    shape: str | None = _dataset_option("shape", "Tomogram shape in voxels as z,y,x"),
    patch_size: int | None = _dataset_option("patch_size", "Edge of the cubic training patches in voxels"),
    patches_per_tomogram: int | None = _dataset_option("patches_per_tomogram", "Patches cut from each tomogram"),
    val_fraction: float | None = _dataset_option("val_fraction", "Fraction of tomograms kept for validation"),
    voxel_size_range: str | None = _dataset_option("voxel_size_range", "Voxel sizes in Å drawn from min,max"),
    snr_range: str | None = _dataset_option("snr_range", "SNRs drawn from min,max"),
    seed: int | None = _dataset_option("seed", "Random seed of the whole dataset"),
    keep_tomograms: bool = typer.Option(False, help="Also keep every full tomogram with its ground truth."),
    workers: int = typer.Option(1, min=1, help="Tomograms simulated in parallel processes (output is the same)."),
    overwrite: bool = typer.Option(False, help="Replace OUT_DIR if it exists."),
) -> None:
    """Simulate a segmentation training set (labels 0 background, 1 membrane, 2 ignore)."""
    from rich.progress import Progress

    from cryomem.simulate._write import check_output_folder

    data = read_settings_yaml(config_file)
    data.update(_overrides(ctx.params, _DATASET_FIELDS))
    if keep_tomograms:
        data["keep_tomograms"] = True
    config = DatasetConfig.model_validate(data)
    check_output_folder(out_dir, None, overwrite=overwrite)  # before the progress bar
    from cryomem.simulate import simulate_dataset

    with Progress(console=console) as bar:
        task = bar.add_task("simulating tomograms", total=config.n_tomograms)
        summary = simulate_dataset(
            config,
            out_dir,
            overwrite=overwrite,
            workers=workers,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    n_train = sum(len(t["patches"]) for t in summary["tomograms"] if t["split"] == "training")
    n_val = sum(len(t["patches"]) for t in summary["tomograms"] if t["split"] == "validation")
    console.print(
        f"[bold green]done[/]: {config.n_tomograms} tomograms, {n_train} training and {n_val} validation patches "
        f"of {config.patch_size}³ voxels in {out_dir}/ "
        "(imagesTr, labelsTr, imagesVal, labelsVal, previews, dataset.json)",
        highlight=False,
    )


@simulate_app.command("config")
@one_line_errors
def show_config(
    dataset_config: bool = typer.Option(False, "--dataset", help="Print the dataset settings instead."),
) -> None:
    """Print every setting with its default as YAML, ready to edit and pass to --config."""
    import yaml

    model = DatasetConfig() if dataset_config else SimulationConfig()
    typer.echo(yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False))
