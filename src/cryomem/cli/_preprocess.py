"""``cryomem preprocess pixel-size | spectrum | match-spectrum | deconvolve``: bring tomograms to the model's domain."""

from __future__ import annotations

from pathlib import Path

import typer

from cryomem.cli._common import console, one_line_errors
from cryomem.segment._preprocess_defaults import DECONVOLUTION_DEFAULTS, DEFAULT_CHUNK_MIB, DEFAULT_TILE

preprocess_app = typer.Typer(
    help="Preprocess tomograms towards the segmentation model's training data (MemBrain v2 preprint §2.4).",
    no_args_is_help=True,
)

_TOMOGRAM = typer.Argument(..., help="Tomogram (MRC or OME-Zarr, level 0); never modified.")
_OUT_MRC = typer.Argument(..., help="Output MRC (float32), written atomically.")
_VOXEL_SIZE = typer.Option(None, "--voxel-size", help="Voxel size of TOMO in Å; overrides the header.")
_OVERWRITE = typer.Option(False, "--overwrite", help="Replace an existing output.")
_CHUNK = typer.Option(
    DEFAULT_CHUNK_MIB, "--chunk-mib", help="Block size, MiB; larger tomograms stream (peak memory about 5x this)."
)


def _deconvolution_option(name: str, flag: str, text: str) -> typer.Option:
    """A deconvolution flag whose default is the library's (:data:`DECONVOLUTION_DEFAULTS`)."""
    return typer.Option(DECONVOLUTION_DEFAULTS[name], flag, help=text)


def _wrote(path: Path) -> None:
    from cryomem.io import read_mrc_header

    header = read_mrc_header(path)
    console.print(
        f"wrote {path} ({'x'.join(map(str, header.shape_zyx))} voxels of {header.voxel_size_ang_raw:.4f} Å)",
        highlight=False,
    )


@preprocess_app.command("pixel-size")
@one_line_errors
def pixel_size(
    tomogram: Path = _TOMOGRAM,
    out: Path = _OUT_MRC,
    voxel_size_out: float = typer.Option(..., "--voxel-size-out", help="New voxel size, Å (e.g. the model's)."),
    smooth: bool = typer.Option(
        False, "--smooth/--no-smooth", help="Raised-cosine roll-off over the last 20% of the kept band."
    ),
    voxel_size: float | None = _VOXEL_SIZE,
    chunk_mib: float = _CHUNK,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Resample TOMO to a new voxel size by Fourier cropping (larger voxels) or zero-padding (smaller)."""
    from cryomem.io import read_mrc_header
    from cryomem.segment import match_pixel_size

    written = match_pixel_size(
        tomogram,
        out,
        voxel_size_out,
        voxel_size_ang=voxel_size,
        smooth=smooth,
        overwrite=overwrite,
        chunk_mib=chunk_mib,
    )
    achieved = read_mrc_header(written).voxel_size_ang_raw
    if abs(achieved - voxel_size_out) > 1e-3 * voxel_size_out:
        console.print(
            f"note: the voxel size is {achieved:.4f} Å, not {voxel_size_out:g} Å: the shape is rounded to whole "
            "voxels (the header says the achieved size)",
            style="yellow",
            highlight=False,
        )
    _wrote(written)


@preprocess_app.command("spectrum")
@one_line_errors
def spectrum(
    tomogram: Path = _TOMOGRAM,
    out: Path = typer.Option(..., "--out", help="Output TSV (frequency_per_ang, amplitude)."),
    tile: int = typer.Option(DEFAULT_TILE, "--tile", help="Edge of the Welch tiles, voxels."),
    voxel_size: float | None = _VOXEL_SIZE,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Radially averaged amplitude spectrum of TOMO (Welch average over Hann-windowed, half-overlapping tiles)."""
    from cryomem.segment import spectrum_file

    written = spectrum_file(tomogram, out, voxel_size_ang=voxel_size, tile=tile, overwrite=overwrite)
    console.print(f"wrote {written}", highlight=False)


@preprocess_app.command("match-spectrum")
@one_line_errors
def match_spectrum(
    tomogram: Path = _TOMOGRAM,
    out: Path = _OUT_MRC,
    reference: Path | None = typer.Option(
        None, "--reference", help="Spectrum .tsv or MRC tomogram (default: the default model's training data)."
    ),
    reference_voxel_size: float | None = typer.Option(
        None, "--reference-voxel-size", help="Voxel size of an MRC reference in Å; overrides its header."
    ),
    tile: int = typer.Option(DEFAULT_TILE, "--tile", help="Edge of the Welch tiles, voxels."),
    voxel_size: float | None = _VOXEL_SIZE,
    chunk_mib: float = _CHUNK,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Rescale TOMO's Fourier amplitudes shell by shell to a reference spectrum; phases untouched."""
    from cryomem.segment import match_spectrum_file

    written = match_spectrum_file(
        tomogram,
        out,
        reference=reference,
        voxel_size_ang=voxel_size,
        reference_voxel_size_ang=reference_voxel_size,
        tile=tile,
        overwrite=overwrite,
        chunk_mib=chunk_mib,
    )
    _wrote(written)


@preprocess_app.command("deconvolve")
@one_line_errors
def deconvolve(
    tomogram: Path = _TOMOGRAM,
    out: Path = _OUT_MRC,
    defocus_um: float = typer.Option(..., "--defocus-um", help="Defocus, µm, positive for underfocus."),
    snr_falloff: float = _deconvolution_option(
        "snr_falloff", "--snr-falloff", "How fast the assumed SNR falls with frequency."
    ),
    strength: float = _deconvolution_option(
        "strength", "--strength", "Deconvolution strength (SNR scale 10^(3 strength))."
    ),
    highpass_nyquist: float = _deconvolution_option(
        "highpass_nyquist", "--highpass-nyquist", "High-pass edge, fraction of Nyquist."
    ),
    phase_flipped: bool = _deconvolution_option(
        "phase_flipped", "--phase-flipped/--no-phase-flipped", "TOMO was CTF phase-flipped (then |CTF| is used)."
    ),
    voltage_kv: float = _deconvolution_option("voltage_kv", "--voltage-kv", "Acceleration voltage, kV."),
    cs_mm: float = _deconvolution_option("cs_mm", "--cs-mm", "Spherical aberration, mm."),
    amplitude_contrast: float = _deconvolution_option(
        "amplitude_contrast", "--amplitude-contrast", "Amplitude contrast fraction."
    ),
    voxel_size: float | None = _VOXEL_SIZE,
    chunk_mib: float = _CHUNK,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Wiener-like deconvolution with the CTF (Warp's deconv filter)."""
    from cryomem.segment import deconvolve_file

    written = deconvolve_file(
        tomogram,
        out,
        defocus_um=defocus_um,
        voxel_size_ang=voxel_size,
        overwrite=overwrite,
        chunk_mib=chunk_mib,
        snr_falloff=snr_falloff,
        strength=strength,
        highpass_nyquist=highpass_nyquist,
        phase_flipped=phase_flipped,
        voltage_kv=voltage_kv,
        cs_mm=cs_mm,
        amplitude_contrast=amplitude_contrast,
    )
    _wrote(written)
