"""Membrane segmentation (``cryomem segment``): a 3D U-Net, its training, inference and metrics.

The method is MemBrain-seg's (MemBrain v2 paper, Methods): an nnU-Net-style U-Net with deep
supervision, BCE + Dice (+ Surface-Dice) losses masked by the ignore label, heavy augmentation
including Fourier amplitude and missing-wedge augmentations, Gaussian-weighted sliding-window
inference with optional 8-fold flip test-time augmentation, and a shipped default model.
"""

from typing import TYPE_CHECKING

from cryomem.io._lazy import lazy_exports

if TYPE_CHECKING:
    from cryomem.segment._augment import AugmentationConfig, augment
    from cryomem.segment._derived_files import instances_file, threshold_file
    from cryomem.segment._evaluate import evaluate_segmentation, write_evaluation_csv
    from cryomem.segment._inference import predict_probabilities, select_device
    from cryomem.segment._instance_split import split_instances
    from cryomem.segment._instances import connected_instances
    from cryomem.segment._losses import SegmentationLoss
    from cryomem.segment._metrics import dice, surface_dice
    from cryomem.segment._model_card import SegmentModelCard
    from cryomem.segment._model_file import (
        DEFAULT_MODEL_PATH,
        load_model,
        read_model_card,
        save_model,
    )
    from cryomem.segment._preprocess_deconvolve import deconvolution_filter, deconvolve, deconvolve_file
    from cryomem.segment._preprocess_match import load_reference_spectrum, match_spectrum, match_spectrum_file
    from cryomem.segment._preprocess_pixel import match_pixel_size, resample_fourier, resampled_grid
    from cryomem.segment._preprocess_spectrum import (
        DEFAULT_REFERENCE_SPECTRUM_PATH,
        RadialSpectrum,
        radial_amplitude_spectrum,
        read_spectrum_tsv,
        spectrum_file,
        write_spectrum_tsv,
    )
    from cryomem.segment._segment_file import (
        SegmentOutputs,
        is_derived_volume,
        segment_file,
        segment_output_paths,
        segmentation_from_probabilities,
    )
    from cryomem.segment._segmenter import Segmenter
    from cryomem.segment._settings import SegmentSettings
    from cryomem.segment._sheet_filter import SheetFilterRules, filter_sheets, load_sheet_filter
    from cryomem.segment._skeleton import skeletonize_membranes
    from cryomem.segment._train import TrainConfig, train
    from cryomem.segment._unet import UNet3D, UNetConfig, parameter_count

_EXPORTS = {
    "AugmentationConfig": "cryomem.segment._augment",
    "augment": "cryomem.segment._augment",
    "evaluate_segmentation": "cryomem.segment._evaluate",
    "write_evaluation_csv": "cryomem.segment._evaluate",
    "predict_probabilities": "cryomem.segment._inference",
    "select_device": "cryomem.segment._inference",
    "connected_instances": "cryomem.segment._instances",
    "instances_file": "cryomem.segment._derived_files",
    "split_instances": "cryomem.segment._instance_split",
    "threshold_file": "cryomem.segment._derived_files",
    "SegmentationLoss": "cryomem.segment._losses",
    "dice": "cryomem.segment._metrics",
    "surface_dice": "cryomem.segment._metrics",
    "SegmentModelCard": "cryomem.segment._model_card",
    "DEFAULT_MODEL_PATH": "cryomem.segment._model_file",
    "load_model": "cryomem.segment._model_file",
    "read_model_card": "cryomem.segment._model_file",
    "save_model": "cryomem.segment._model_file",
    "deconvolution_filter": "cryomem.segment._preprocess_deconvolve",
    "deconvolve": "cryomem.segment._preprocess_deconvolve",
    "deconvolve_file": "cryomem.segment._preprocess_deconvolve",
    "load_reference_spectrum": "cryomem.segment._preprocess_match",
    "match_spectrum": "cryomem.segment._preprocess_match",
    "match_spectrum_file": "cryomem.segment._preprocess_match",
    "match_pixel_size": "cryomem.segment._preprocess_pixel",
    "resample_fourier": "cryomem.segment._preprocess_pixel",
    "resampled_grid": "cryomem.segment._preprocess_pixel",
    "DEFAULT_REFERENCE_SPECTRUM_PATH": "cryomem.segment._preprocess_spectrum",
    "RadialSpectrum": "cryomem.segment._preprocess_spectrum",
    "radial_amplitude_spectrum": "cryomem.segment._preprocess_spectrum",
    "read_spectrum_tsv": "cryomem.segment._preprocess_spectrum",
    "spectrum_file": "cryomem.segment._preprocess_spectrum",
    "write_spectrum_tsv": "cryomem.segment._preprocess_spectrum",
    "SegmentOutputs": "cryomem.segment._segment_file",
    "Segmenter": "cryomem.segment._segmenter",
    "is_derived_volume": "cryomem.segment._segment_file",
    "segment_file": "cryomem.segment._segment_file",
    "segment_output_paths": "cryomem.segment._segment_file",
    "segmentation_from_probabilities": "cryomem.segment._segment_file",
    "SegmentSettings": "cryomem.segment._settings",
    "SheetFilterRules": "cryomem.segment._sheet_filter",
    "filter_sheets": "cryomem.segment._sheet_filter",
    "load_sheet_filter": "cryomem.segment._sheet_filter",
    "skeletonize_membranes": "cryomem.segment._skeleton",
    "TrainConfig": "cryomem.segment._train",
    "train": "cryomem.segment._train",
    "UNet3D": "cryomem.segment._unet",
    "UNetConfig": "cryomem.segment._unet",
    "parameter_count": "cryomem.segment._unet",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "DEFAULT_MODEL_PATH",
    "DEFAULT_REFERENCE_SPECTRUM_PATH",
    "AugmentationConfig",
    "RadialSpectrum",
    "SegmentModelCard",
    "SegmentOutputs",
    "SegmentSettings",
    "SegmentationLoss",
    "Segmenter",
    "SheetFilterRules",
    "TrainConfig",
    "UNet3D",
    "UNetConfig",
    "augment",
    "connected_instances",
    "deconvolution_filter",
    "deconvolve",
    "deconvolve_file",
    "dice",
    "evaluate_segmentation",
    "filter_sheets",
    "instances_file",
    "is_derived_volume",
    "load_model",
    "load_reference_spectrum",
    "load_sheet_filter",
    "match_pixel_size",
    "match_spectrum",
    "match_spectrum_file",
    "parameter_count",
    "predict_probabilities",
    "radial_amplitude_spectrum",
    "read_model_card",
    "read_spectrum_tsv",
    "resample_fourier",
    "resampled_grid",
    "save_model",
    "segment_file",
    "segment_output_paths",
    "segmentation_from_probabilities",
    "select_device",
    "skeletonize_membranes",
    "spectrum_file",
    "split_instances",
    "surface_dice",
    "threshold_file",
    "train",
    "write_evaluation_csv",
    "write_spectrum_tsv",
]
