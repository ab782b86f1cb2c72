"""Particle picking on membrane surfaces (``cryomem pick``): MemBrain-pick's method in our own code.

Each membrane mesh carries tomogram densities sampled along its normals; a DiffusionNet (Sharp et
al. 2022, written here from the paper) with a learned 1D convolution along the normal predicts, for
every vertex, the distance in Å to the nearest particle on its side of the membrane; mean shift on
that map gives particle positions (MemBrain v2 paper, Methods "MemBrain-pick").
"""

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
from cryomem.pick._dataset import SurfacePatch, normalise_window, surface_patches, tomogram_name, window_columns
from cryomem.pick._diffusion_net import DiffusionNetConfig, PickNet, operators_to_torch, parameter_count
from cryomem.pick._inference import predict_distances_ang
from cryomem.pick._model_card import PickModelCard
from cryomem.pick._model_file import (
    PICK_MODEL_FORMAT,
    PICK_MODEL_FORMAT_VERSION,
    load_pick_model,
    read_pick_model_card,
    save_pick_model,
)
from cryomem.pick._operators import OperatorCache, SurfaceOperators, compute_operators, default_operator_cache_dir
from cryomem.pick._targets import assign_particles_to_surfaces, distance_targets_ang
from cryomem.pick._train import PickTrainConfig, train_pick_model

__all__ = [
    "PICK_MODEL_FORMAT",
    "PICK_MODEL_FORMAT_VERSION",
    "DiffusionNetConfig",
    "OperatorCache",
    "PickAugmentConfig",
    "PickModelCard",
    "PickNet",
    "PickTrainConfig",
    "SurfaceOperators",
    "SurfacePatch",
    "assign_particles_to_surfaces",
    "calibrate_mean_shift",
    "score_pick_settings",
    "augment_features",
    "brightness_gradient",
    "compute_operators",
    "default_operator_cache_dir",
    "distance_targets_ang",
    "feature_dropout",
    "feature_noise",
    "feature_scale",
    "feature_shift",
    "load_pick_model",
    "local_gamma",
    "normal_smoothing",
    "normalise_window",
    "operators_to_torch",
    "parameter_count",
    "predict_distances_ang",
    "random_erasing",
    "read_pick_model_card",
    "save_pick_model",
    "spatial_smoothing",
    "surface_patches",
    "tomogram_name",
    "train_pick_model",
    "window_columns",
]

# --- names from the PREDICT helper (mean shift, clusters, evaluation, prediction) are appended below ---
from cryomem.pick._clusters import (  # noqa: E402
    DEFAULT_BANDWIDTH_FACTOR,
    DEFAULT_COINCIDE_FACTOR,
    DEFAULT_MERGE_FACTOR,
    half_thickness_ang,
    merge_duplicates,
    pick_surface,
)
from cryomem.pick._evaluate import EVALUATION_COLUMNS, evaluate_files, evaluate_picks  # noqa: E402
from cryomem.pick._mean_shift import mean_shift_ang  # noqa: E402
from cryomem.pick._predict import (  # noqa: E402
    PREDICTED_DISTANCE_KEY,
    TTA_SHIFTS,
    check_ensemble_cards,
    particles_star_path,
    predict_membranes,
    predicted_membrane_path,
)
from cryomem.pick._settings import PickSettings  # noqa: E402

__all__ += [
    "PickSettings",
    "DEFAULT_BANDWIDTH_FACTOR",
    "DEFAULT_COINCIDE_FACTOR",
    "DEFAULT_MERGE_FACTOR",
    "EVALUATION_COLUMNS",
    "PREDICTED_DISTANCE_KEY",
    "TTA_SHIFTS",
    "check_ensemble_cards",
    "evaluate_files",
    "evaluate_picks",
    "mean_shift_ang",
    "half_thickness_ang",
    "merge_duplicates",
    "particles_star_path",
    "pick_surface",
    "predict_membranes",
    "predicted_membrane_path",
]
