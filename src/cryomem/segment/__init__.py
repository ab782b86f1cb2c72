"""Membrane segmentation (``cryomem segment``): a 3D U-Net, its training, inference and metrics.

The method is MemBrain-seg's (MemBrain v2 paper, Methods): an nnU-Net-style U-Net with deep
supervision, BCE + Dice (+ Surface-Dice) losses masked by the ignore label, heavy augmentation
including Fourier amplitude and missing-wedge augmentations, Gaussian-weighted sliding-window
inference with optional 8-fold flip test-time augmentation, and a shipped default model.
"""

from cryomem.segment._augment import AugmentationConfig, augment
from cryomem.segment._evaluate import evaluate_segmentation, write_evaluation_csv
from cryomem.segment._inference import predict_probabilities, select_device
from cryomem.segment._instances import connected_instances
from cryomem.segment._losses import SegmentationLoss
from cryomem.segment._metrics import dice, surface_dice
from cryomem.segment._model_card import SegmentModelCard
from cryomem.segment._model_file import (
    DEFAULT_MODEL_PATH,
    load_model,
    read_model_card,
    save_model,
    trained_voxel_range_ang,
    voxel_size_note,
)
from cryomem.segment._segment_file import is_derived_volume, segment_file, segment_output_paths
from cryomem.segment._settings import SegmentSettings
from cryomem.segment._sheet_filter import SheetFilterRules, filter_sheets, load_sheet_filter
from cryomem.segment._skeleton import skeletonize_membranes
from cryomem.segment._train import TrainConfig, train
from cryomem.segment._unet import UNet3D, UNetConfig, parameter_count

__all__ = [
    "DEFAULT_MODEL_PATH",
    "AugmentationConfig",
    "SegmentModelCard",
    "SegmentSettings",
    "SegmentationLoss",
    "SheetFilterRules",
    "TrainConfig",
    "UNet3D",
    "UNetConfig",
    "augment",
    "connected_instances",
    "dice",
    "evaluate_segmentation",
    "filter_sheets",
    "is_derived_volume",
    "load_model",
    "load_sheet_filter",
    "parameter_count",
    "predict_probabilities",
    "read_model_card",
    "save_model",
    "segment_file",
    "segment_output_paths",
    "select_device",
    "skeletonize_membranes",
    "surface_dice",
    "train",
    "trained_voxel_range_ang",
    "voxel_size_note",
    "write_evaluation_csv",
]
