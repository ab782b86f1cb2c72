"""Particle picking on membrane surfaces (``cryomem pick``): MemBrain-pick's method in our own code.

Each membrane mesh carries tomogram densities sampled along its normals; a DiffusionNet (Sharp et
al. 2022, written here from the paper) with a learned 1D convolution along the normal predicts, for
every vertex, the distance in Å to the nearest particle on its side of the membrane; mean shift on
that map gives particle positions (MemBrain v2 paper, Methods "MemBrain-pick").
"""

from typing import TYPE_CHECKING

from cryomem.io._lazy import lazy_exports

if TYPE_CHECKING:
    from cryomem.pick._augment import (
        PickAugmentConfig,
        augment_features,
        brightness_gradient,
        feature_dropout,
        feature_noise,
        feature_scale,
        feature_shift,
        local_gamma,
        normal_smoothing,
        random_erasing,
        spatial_smoothing,
    )
    from cryomem.pick._calibrate import calibrate_mean_shift, score_pick_settings
    from cryomem.pick._clusters import (
        DEFAULT_BANDWIDTH_FACTOR,
        DEFAULT_COINCIDE_FACTOR,
        DEFAULT_MERGE_FACTOR,
        half_thickness_ang,
        merge_duplicates,
        pick_surface,
    )
    from cryomem.pick._dataset import SurfacePatch, normalise_window, surface_patches, tomogram_name, window_columns
    from cryomem.pick._diffusion_net import DiffusionNetConfig, PickNet, operators_to_torch, parameter_count
    from cryomem.pick._evaluate import EVALUATION_COLUMNS, evaluate_files, evaluate_picks
    from cryomem.pick._inference import predict_distances_ang
    from cryomem.pick._mean_shift import mean_shift_ang
    from cryomem.pick._model_card import PickModelCard
    from cryomem.pick._model_file import (
        PICK_MODEL_FORMAT,
        PICK_MODEL_FORMAT_VERSION,
        load_pick_model,
        read_pick_model_card,
        save_pick_model,
    )
    from cryomem.pick._operators import OperatorCache, SurfaceOperators, compute_operators, default_operator_cache_dir
    from cryomem.pick._picker import Picker, check_ensemble_cards
    from cryomem.pick._predict import (
        PREDICTED_DISTANCE_KEY,
        TTA_SHIFTS,
        particles_star_path,
        predict_membranes,
        predicted_membrane_path,
    )
    from cryomem.pick._settings import PickSettings
    from cryomem.pick._targets import assign_particles_to_surfaces, distance_targets_ang
    from cryomem.pick._train import PickTrainConfig, train_pick_model

_EXPORTS = {
    "PickAugmentConfig": "cryomem.pick._augment",
    "augment_features": "cryomem.pick._augment",
    "brightness_gradient": "cryomem.pick._augment",
    "feature_dropout": "cryomem.pick._augment",
    "feature_noise": "cryomem.pick._augment",
    "feature_scale": "cryomem.pick._augment",
    "feature_shift": "cryomem.pick._augment",
    "local_gamma": "cryomem.pick._augment",
    "normal_smoothing": "cryomem.pick._augment",
    "random_erasing": "cryomem.pick._augment",
    "spatial_smoothing": "cryomem.pick._augment",
    "calibrate_mean_shift": "cryomem.pick._calibrate",
    "score_pick_settings": "cryomem.pick._calibrate",
    "SurfacePatch": "cryomem.pick._dataset",
    "normalise_window": "cryomem.pick._dataset",
    "surface_patches": "cryomem.pick._dataset",
    "tomogram_name": "cryomem.pick._dataset",
    "window_columns": "cryomem.pick._dataset",
    "DiffusionNetConfig": "cryomem.pick._diffusion_net",
    "PickNet": "cryomem.pick._diffusion_net",
    "operators_to_torch": "cryomem.pick._diffusion_net",
    "parameter_count": "cryomem.pick._diffusion_net",
    "predict_distances_ang": "cryomem.pick._inference",
    "PickModelCard": "cryomem.pick._model_card",
    "PICK_MODEL_FORMAT": "cryomem.pick._model_file",
    "PICK_MODEL_FORMAT_VERSION": "cryomem.pick._model_file",
    "load_pick_model": "cryomem.pick._model_file",
    "read_pick_model_card": "cryomem.pick._model_file",
    "save_pick_model": "cryomem.pick._model_file",
    "OperatorCache": "cryomem.pick._operators",
    "SurfaceOperators": "cryomem.pick._operators",
    "compute_operators": "cryomem.pick._operators",
    "default_operator_cache_dir": "cryomem.pick._operators",
    "assign_particles_to_surfaces": "cryomem.pick._targets",
    "distance_targets_ang": "cryomem.pick._targets",
    "PickTrainConfig": "cryomem.pick._train",
    "train_pick_model": "cryomem.pick._train",
    "DEFAULT_BANDWIDTH_FACTOR": "cryomem.pick._clusters",
    "DEFAULT_COINCIDE_FACTOR": "cryomem.pick._clusters",
    "DEFAULT_MERGE_FACTOR": "cryomem.pick._clusters",
    "half_thickness_ang": "cryomem.pick._clusters",
    "merge_duplicates": "cryomem.pick._clusters",
    "pick_surface": "cryomem.pick._clusters",
    "EVALUATION_COLUMNS": "cryomem.pick._evaluate",
    "evaluate_files": "cryomem.pick._evaluate",
    "evaluate_picks": "cryomem.pick._evaluate",
    "mean_shift_ang": "cryomem.pick._mean_shift",
    "PREDICTED_DISTANCE_KEY": "cryomem.pick._predict",
    "TTA_SHIFTS": "cryomem.pick._predict",
    "check_ensemble_cards": "cryomem.pick._picker",
    "Picker": "cryomem.pick._picker",
    "particles_star_path": "cryomem.pick._predict",
    "predict_membranes": "cryomem.pick._predict",
    "predicted_membrane_path": "cryomem.pick._predict",
    "PickSettings": "cryomem.pick._settings",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "Picker",
    "DEFAULT_BANDWIDTH_FACTOR",
    "DEFAULT_COINCIDE_FACTOR",
    "DEFAULT_MERGE_FACTOR",
    "DiffusionNetConfig",
    "EVALUATION_COLUMNS",
    "OperatorCache",
    "PICK_MODEL_FORMAT",
    "PICK_MODEL_FORMAT_VERSION",
    "PREDICTED_DISTANCE_KEY",
    "PickAugmentConfig",
    "PickModelCard",
    "PickNet",
    "PickSettings",
    "PickTrainConfig",
    "SurfaceOperators",
    "SurfacePatch",
    "TTA_SHIFTS",
    "assign_particles_to_surfaces",
    "augment_features",
    "brightness_gradient",
    "calibrate_mean_shift",
    "check_ensemble_cards",
    "compute_operators",
    "default_operator_cache_dir",
    "distance_targets_ang",
    "evaluate_files",
    "evaluate_picks",
    "feature_dropout",
    "feature_noise",
    "feature_scale",
    "feature_shift",
    "half_thickness_ang",
    "load_pick_model",
    "local_gamma",
    "mean_shift_ang",
    "merge_duplicates",
    "normal_smoothing",
    "normalise_window",
    "operators_to_torch",
    "parameter_count",
    "particles_star_path",
    "pick_surface",
    "predict_distances_ang",
    "predict_membranes",
    "predicted_membrane_path",
    "random_erasing",
    "read_pick_model_card",
    "save_pick_model",
    "score_pick_settings",
    "spatial_smoothing",
    "surface_patches",
    "tomogram_name",
    "train_pick_model",
    "window_columns",
]
