"""One synthetic tomogram end to end: phantom, tilt series, reconstruction, ground truth."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cryomem.io import FractionProgress
from cryomem.simulate._atomic_models import template_from_atomic_model
from cryomem.simulate._config import SimulationConfig
from cryomem.simulate._distractors import random_distractor_templates
from cryomem.simulate._hard_negatives import insert_hard_negatives
from cryomem.simulate._microscope import ImagingEffects, TiltSeries, image_tomogram, tilt_angles_deg
from cryomem.simulate._phantom import (
    LABEL_HARD_NEGATIVE,
    Phantom,
    SimulationError,
    empty_phantom,
    insert_membranes,
)
from cryomem.simulate._proteins import insert_cytosolic_proteins, insert_filaments, insert_membrane_proteins
from cryomem.simulate._templates import (
    Template,
    actin_unit,
    cytosolic_templates,
    load_template_mrc,
    membrane_protein_templates,
    microtubule_unit,
)


@dataclass
class SimulatedTomogram:
    """A reconstructed tomogram with its exact ground truth, all in memory."""

    config: SimulationConfig
    tomogram_zyx: np.ndarray  # float32, zero mean, unit std, dense matter dark
    phantom: Phantom
    tilt_series: TiltSeries
    membrane_templates: list[Template]
    cytosolic_templates: list[Template]
    timings_s: dict[str, float] = field(default_factory=dict)


def _procedural(voxel_size_ang: float) -> tuple[tuple[Template, ...], tuple[Template, ...], dict[str, Template]]:
    units = {"microtubule": microtubule_unit(voxel_size_ang), "actin": actin_unit(voxel_size_ang)}
    return tuple(membrane_protein_templates(voxel_size_ang)), tuple(cytosolic_templates(voxel_size_ang)), units


def _select(templates: tuple[Template, ...], names: tuple[str, ...] | None, what: str) -> list[Template]:
    if names is None:
        return list(templates)
    known = {t.name: t for t in templates}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {what} template {unknown[0]!r}; choose from {', '.join(known)}")
    return [known[n] for n in names]


def resolve_templates(config: SimulationConfig) -> tuple[list[Template], list[Template], dict[str, Template]]:
    """Templates at the config's voxel size; user MRC and atomic-model files are checked before simulating."""
    for path in config.membrane_proteins.template_files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"template file {path} does not exist; check the path given as a template")
    for path in (*config.membrane_proteins.atomic_model_files, *config.cytosol.atomic_model_files):
        if not Path(path).is_file():
            raise FileNotFoundError(f"atomic model {path} does not exist; check the path given as an atomic model")
    membrane, cytosolic, units = _procedural(config.voxel_size_ang)
    membrane_list = _select(membrane, config.membrane_proteins.classes, "membrane protein")
    membrane_list += [
        load_template_mrc(p, config.voxel_size_ang, kind="membrane") for p in config.membrane_proteins.template_files
    ]
    membrane_list += [
        template_from_atomic_model(p, config.voxel_size_ang, kind="membrane")
        for p in config.membrane_proteins.atomic_model_files
    ]
    cytosolic_list = _select(cytosolic, config.cytosol.classes, "cytosolic")
    cytosolic_list += [template_from_atomic_model(p, config.voxel_size_ang) for p in config.cytosol.atomic_model_files]
    return membrane_list, cytosolic_list, units


def _without_hard_negatives(phantom: Phantom) -> np.ndarray | None:
    """The density with gold, ice, carbon and granules removed (None when there are none): it sets the noise."""
    is_hard = np.asarray(phantom.object_labels) == LABEL_HARD_NEGATIVE
    if not is_hard.any():
        return None
    density = phantom.density_zyx.copy()
    density[is_hard[phantom.object_ids_zyx]] = 0.0
    return density


def simulate_tomogram(config: SimulationConfig, progress: FractionProgress | None = None) -> SimulatedTomogram:
    """Simulate one tomogram; all randomness flows from ``config.seed``.

    Each stage draws from its own stream spawned from the seed, so changing, say, the noise level
    leaves the phantom unchanged. Streams 0-4 (membranes, filaments, membrane proteins, cytosol,
    microscope) are the first five children of ``SeedSequence(seed)``; hard negatives (5) and the
    random distractor templates (6) come after them, so turning those off reproduces the older
    streams exactly.

    Raises
    ------
    SimulationError
        An occupancy that cannot fit, with the setting to change in the message.
    FileNotFoundError
        A user template file is missing.
    """
    membrane_templates, cyto_templates, units = resolve_templates(config)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(7)]
    cyto = config.cytosol
    cyto_templates = cyto_templates + random_distractor_templates(
        cyto.procedural_classes,
        config.voxel_size_ang,
        streams[6],
        size_range_nm=cyto.procedural_size_nm,
        kinds=cyto.procedural_kinds,
    )
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    phantom = empty_phantom(config.shape_zyx, config.voxel_size_ang)
    insert_membranes(phantom, config.membranes, streams[0], progress)
    timings["membranes"] = time.perf_counter() - t0
    t = time.perf_counter()
    insert_hard_negatives(phantom, config.hard_negatives, streams[5])
    timings["hard_negatives"] = time.perf_counter() - t
    t = time.perf_counter()
    insert_filaments(phantom, units, config.cytosol, streams[1])
    timings["filaments"] = time.perf_counter() - t
    t = time.perf_counter()
    insert_membrane_proteins(phantom, membrane_templates, config.membrane_proteins, streams[2], progress)
    timings["membrane_proteins"] = time.perf_counter() - t
    t = time.perf_counter()
    insert_cytosolic_proteins(phantom, cyto_templates, config.cytosol, streams[3], progress)
    timings["cytosolic_proteins"] = time.perf_counter() - t
    if progress:
        progress("tilt series and reconstruction", 0.0)
    t = time.perf_counter()
    mic = config.microscope
    tomogram, tilt_series = image_tomogram(
        phantom.density_zyx,
        snr_reference_zyx=_without_hard_negatives(phantom),
        voxel_size_ang=config.voxel_size_ang,
        angles_deg=tilt_angles_deg(mic.tilt_min_deg, mic.tilt_max_deg, mic.tilt_step_deg),
        defocus_ang=mic.defocus_um * 1e4,
        voltage_kv=mic.voltage_kv,
        cs_mm=mic.cs_mm,
        amplitude_contrast=mic.amplitude_contrast,
        snr=mic.snr,
        misalignment_px=mic.misalignment_px,
        phase_flip=mic.phase_flip,
        rng=streams[4],
        effects=ImagingEffects(
            defocus_gradient=mic.defocus_gradient,
            total_dose_e_per_ang2=mic.total_dose_e_per_ang2,
            dose_split=mic.dose_split,
            tilt_scheme=mic.tilt_scheme,
            detector_mtf=mic.detector_mtf,
            mtf_decay=mic.mtf_decay,
            noise_exponent=mic.noise_exponent,
        ),
        reconstruction=mic.reconstruction,
        sirt_iterations=mic.sirt_iterations,
        denoise=mic.denoise,
        denoise_strength=mic.denoise_strength,
    )
    timings["microscope"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    if progress:
        progress("tilt series and reconstruction", 1.0)
    return SimulatedTomogram(config, tomogram, phantom, tilt_series, membrane_templates, cyto_templates, timings)


__all__ = ["SimulatedTomogram", "SimulationError", "resolve_templates", "simulate_tomogram"]
