"""Defaults of ``cryomem preprocess``, in one place that the library and the CLI both read.

No imports, so the CLI reads them without loading numpy or scipy.
"""

__all__ = ["DEFAULT_CHUNK_MIB", "DEFAULT_TILE", "DECONVOLUTION_DEFAULTS"]

DEFAULT_CHUNK_MIB = 64.0
"""Slab size of the streamed pixel-size resampling, MiB."""

DEFAULT_TILE = 64
"""Edge of the Welch tiles of the amplitude spectrum, voxels."""

DECONVOLUTION_DEFAULTS: dict[str, float | bool] = {
    "snr_falloff": 1.0,
    "strength": 1.0,
    "highpass_nyquist": 0.02,
    "phase_flipped": False,
    "voltage_kv": 300.0,
    "cs_mm": 2.7,
    "amplitude_contrast": 0.07,
}
"""Warp's deconvolution filter settings (see :mod:`cryomem.segment._preprocess_deconvolve`)."""
