"""``cryomem simulate tomogram|dataset|config``."""

from __future__ import annotations

from pathlib import Path

import typer

from cryomem.cli._common import (
    StageProgress,
    console,
    one_line_errors,
    parse_floats,
    parse_ints,
    parse_weights,
    read_settings_yaml,
)

simulate_app = typer.Typer(help="Synthetic tomograms with exact ground truth.", no_args_is_help=True)


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


@simulate_app.command("tomogram")
@one_line_errors
def tomogram(
    out_dir: Path = typer.Argument(..., help="New folder for the tomogram and its ground truth."),
    config_file: Path | None = typer.Option(
        None, "--config", help="YAML file with any settings (see `cryomem simulate config`)."
    ),
    name: str = typer.Option("tomo", help="File name stem of every output."),
    shape: str | None = typer.Option(None, help="Volume shape in voxels as z,y,x (default 96,256,256)."),
    voxel_size: float | None = typer.Option(None, "--voxel-size", help="Voxel size in Å (default 10)."),
    seed: int | None = typer.Option(None, help="Random seed; the same seed gives identical files (default 0)."),
    membranes: str | None = typer.Option(
        None,
        help="Membrane mix as kind=weight, kinds: sphere, ellipsoid, torus, sheet, stack, double, small_vesicle.",
    ),
    membrane_contrast: str | None = typer.Option(
        None, help="Per-membrane density factor drawn from min,max (default 1,1)."
    ),
    leaflet_asymmetry: str | None = typer.Option(
        None, help="Outer/inner leaflet peak ratio drawn from min,max (default 1,1 = symmetric)."
    ),
    membrane_occupancy: float | None = typer.Option(
        None, help="Target fraction of the volume that is membrane (default 0.04)."
    ),
    protein_occupancy: float | None = typer.Option(
        None, help="Target fraction of membrane area covered by membrane proteins (default 0.15)."
    ),
    protein_concentration: float | None = typer.Option(
        None, help="Target membrane proteins per µm² (overrides --protein-occupancy)."
    ),
    clustered_fraction: float | None = typer.Option(
        None, help="Fraction of membrane proteins placed in clusters (default 0.3)."
    ),
    template: list[Path] | None = typer.Option(
        None, help="MRC template of a membrane protein (z = membrane normal); repeatable."
    ),
    membrane_atomic_model: list[Path] | None = typer.Option(
        None, help="PDB/mmCIF model of a membrane protein (z = normal, mass centre on the mid-plane); repeatable."
    ),
    atomic_model: list[Path] | None = typer.Option(
        None, help="PDB/mmCIF model of a cytosolic protein; repeatable (never downloaded)."
    ),
    distractor_classes: int | None = typer.Option(
        None, help="Random protein-like distractor templates generated per tomogram; 0 = off (default 6)."
    ),
    distractor_size: str | None = typer.Option(None, help="Distractor sizes in nm as min,max (default 3,40)."),
    distractors: str | None = typer.Option(
        None, help="Distractor mix as kind=weight, kinds: pseudo_atomic, symmetric, cage, ring, rod."
    ),
    distractor_clusters: float | None = typer.Option(
        None, help="Fraction of non-ribosome cytosolic proteins placed in clusters (default 0.2)."
    ),
    gold: int | None = typer.Option(None, help="Gold fiducials (5-15 nm, very dense) per tomogram (default 0)."),
    ice: int | None = typer.Option(None, help="Faceted ice contaminants at the top/bottom surface (default 0)."),
    carbon_edges: int | None = typer.Option(None, help="Carbon-film / lamella-edge slabs, 0-3 (default 0)."),
    granules: int | None = typer.Option(None, help="Dense 20-80 nm granules (default 0)."),
    cytosolic_occupancy: float | None = typer.Option(
        None, help="Target volume fraction of cytosolic proteins (default 0.03)."
    ),
    microtubules: int | None = typer.Option(None, help="Number of microtubules (default 1)."),
    actin: int | None = typer.Option(None, help="Number of actin filaments (default 3)."),
    protofilaments: str | None = typer.Option(
        None, help="Microtubule protofilament numbers drawn from min,max within 11-16 (default 13,13)."
    ),
    intermediate_filaments: int | None = typer.Option(
        None, help="Number of smooth ~10 nm intermediate-filament-like rods (default 0)."
    ),
    bundles: int | None = typer.Option(None, help="Number of parallel actin bundles (default 0)."),
    actin_networks: int | None = typer.Option(None, help="Number of branched (~70°) actin networks (default 0)."),
    snr: float | None = typer.Option(None, help="Signal-to-noise ratio of each tilt image (default 0.5)."),
    tilt_range: str | None = typer.Option(None, help="Tilt range in degrees as min,max (default -60,60)."),
    tilt_step: float | None = typer.Option(None, help="Tilt step in degrees (default 3)."),
    defocus: float | None = typer.Option(None, help="Underfocus in µm (default 3)."),
    voltage: float | None = typer.Option(None, help="Acceleration voltage in kV (default 300)."),
    cs: float | None = typer.Option(None, help="Spherical aberration in mm (default 2.7)."),
    amplitude_contrast: float | None = typer.Option(None, help="Amplitude contrast fraction (default 0.07)."),
    phase_flip: bool | None = typer.Option(
        None, "--phase-flip/--no-phase-flip", help="Correct the CTF by phase flipping (default on)."
    ),
    misalignment: float | None = typer.Option(
        None, help="Per-tilt random shift, standard deviation in pixels (default 0.5)."
    ),
    reconstruction: str | None = typer.Option(None, help="Reconstruction: wbp or sirt (default wbp)."),
    sirt_iterations: int | None = typer.Option(None, help="SIRT iterations (default 10)."),
    defocus_gradient: bool | None = typer.Option(
        None, "--defocus-gradient/--no-defocus-gradient", help="Defocus varies across tilted images (default off)."
    ),
    dose: float | None = typer.Option(
        None, help="Total exposure in e/Å² with accumulated radiation damage; 0 = off (default 0)."
    ),
    detector_mtf: bool | None = typer.Option(
        None, "--detector-mtf/--no-detector-mtf", help="Blur images by a detector MTF (default off)."
    ),
    noise_color: float | None = typer.Option(None, help="Noise power ∝ 1/f^x: 0 white, 1 pink, 2 brown (default 0)."),
    denoise: str | None = typer.Option(
        None, help="Denoised look after reconstruction: none, lowpass or diffusion (default none)."
    ),
    save_density: bool = typer.Option(False, help="Also write the noise-free density."),
    save_tilt_series: bool = typer.Option(False, help="Also write the tilt series (MRC stack) and its .tlt angles."),
    overwrite: bool = typer.Option(False, help="Replace OUT_DIR if it exists."),
) -> None:
    """Simulate one tomogram: MRC volumes, labels, meshes, STAR tables, JSON ground truth and a PNG preview."""
    from cryomem.simulate import SimulationConfig, load_config, merge_config, simulate_to_folder
    from cryomem.simulate._atomic_models import read_atomic_model
    from cryomem.simulate._write import check_output_folder

    tilt = parse_floats(tilt_range, 2, "--tilt-range") if tilt_range else (None, None)
    overrides = {
        "shape_zyx": parse_ints(shape, 3, "--shape") if shape else None,
        "voxel_size_ang": voxel_size,
        "seed": seed,
        "membranes.kinds": parse_weights(membranes, "--membranes") if membranes is not None else None,
        "membranes.occupancy": membrane_occupancy,
        "membrane_proteins.occupancy": protein_occupancy,
        "membrane_proteins.concentration_per_um2": protein_concentration,
        "membrane_proteins.clustered_fraction": clustered_fraction,
        "membrane_proteins.template_files": tuple(template) if template else None,
        "membrane_proteins.atomic_model_files": tuple(membrane_atomic_model) if membrane_atomic_model else None,
        "cytosol.atomic_model_files": tuple(atomic_model) if atomic_model else None,
        "cytosol.procedural_classes": distractor_classes,
        "cytosol.procedural_size_nm": (
            parse_floats(distractor_size, 2, "--distractor-size") if distractor_size else None
        ),
        "cytosol.procedural_kinds": parse_weights(distractors, "--distractors") if distractors else None,
        "cytosol.cluster_fraction": distractor_clusters,
        "hard_negatives.gold_fiducials": gold,
        "hard_negatives.ice_crystals": ice,
        "hard_negatives.carbon_edges": carbon_edges,
        "hard_negatives.granules": granules,
        "cytosol.occupancy": cytosolic_occupancy,
        "cytosol.microtubules": microtubules,
        "cytosol.actin_filaments": actin,
        "microscope.snr": snr,
        "microscope.tilt_min_deg": tilt[0],
        "microscope.tilt_max_deg": tilt[1],
        "microscope.tilt_step_deg": tilt_step,
        "microscope.defocus_um": defocus,
        "microscope.voltage_kv": voltage,
        "microscope.cs_mm": cs,
        "microscope.amplitude_contrast": amplitude_contrast,
        "microscope.phase_flip": phase_flip,
        "microscope.misalignment_px": misalignment,
        "membranes.density_factor": parse_floats(membrane_contrast, 2, "--membrane-contrast")
        if membrane_contrast
        else None,
        "membranes.leaflet_peak_ratio": parse_floats(leaflet_asymmetry, 2, "--leaflet-asymmetry")
        if leaflet_asymmetry
        else None,
        "cytosol.microtubule_protofilaments": parse_ints(protofilaments, 2, "--protofilaments")
        if protofilaments
        else None,
        "cytosol.intermediate_filaments": intermediate_filaments,
        "cytosol.filament_bundles": bundles,
        "cytosol.actin_networks": actin_networks,
        "microscope.reconstruction": reconstruction,
        "microscope.sirt_iterations": sirt_iterations,
        "microscope.defocus_gradient": defocus_gradient,
        "microscope.total_dose_e_per_ang2": dose,
        "microscope.detector_mtf": detector_mtf,
        "microscope.noise_exponent": noise_color,
        "microscope.denoise": denoise,
    }
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
    out_dir: Path = typer.Argument(..., help="New folder for imagesTr/labelsTr/imagesVal/labelsVal."),
    config_file: Path | None = typer.Option(
        None, "--config", help="YAML file with dataset settings (see `cryomem simulate config --dataset`)."
    ),
    n_tomograms: int | None = typer.Option(None, help="Number of tomograms to simulate (default 8)."),
    shape: str | None = typer.Option(None, help="Tomogram shape in voxels as z,y,x (default 96,192,192)."),
    patch_size: int | None = typer.Option(None, help="Edge of the cubic training patches in voxels (default 64)."),
    patches_per_tomogram: int | None = typer.Option(None, help="Patches cut from each tomogram (default 4)."),
    val_fraction: float | None = typer.Option(None, help="Fraction of tomograms kept for validation (default 0.25)."),
    voxel_size_range: str | None = typer.Option(None, help="Voxel sizes in Å drawn from min,max (default 8,20)."),
    snr_range: str | None = typer.Option(None, help="SNRs drawn from min,max (default 0.15,1.5)."),
    seed: int | None = typer.Option(None, help="Random seed of the whole dataset (default 0)."),
    keep_tomograms: bool = typer.Option(False, help="Also keep every full tomogram with its ground truth."),
    workers: int = typer.Option(1, min=1, help="Tomograms simulated in parallel processes (output is the same)."),
    overwrite: bool = typer.Option(False, help="Replace OUT_DIR if it exists."),
) -> None:
    """Simulate a segmentation training set (labels 0 background, 1 membrane, 2 ignore)."""
    from rich.progress import Progress

    from cryomem.simulate import DatasetConfig
    from cryomem.simulate._write import check_output_folder

    data = read_settings_yaml(config_file)
    overrides = {
        "n_tomograms": n_tomograms,
        "shape_zyx": parse_ints(shape, 3, "--shape") if shape else None,
        "patch_size": patch_size,
        "patches_per_tomogram": patches_per_tomogram,
        "val_fraction": val_fraction,
        "voxel_size_ang": parse_floats(voxel_size_range, 2, "--voxel-size-range") if voxel_size_range else None,
        "snr": parse_floats(snr_range, 2, "--snr-range") if snr_range else None,
        "seed": seed,
        "keep_tomograms": keep_tomograms or None,
    }
    data.update({k: v for k, v in overrides.items() if v is not None})
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

    from cryomem.simulate import DatasetConfig, SimulationConfig

    model = DatasetConfig() if dataset_config else SimulationConfig()
    typer.echo(yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False))
