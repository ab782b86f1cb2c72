"""File formats and the one place for coordinate and angle conventions.

Arrays are ``(z, y, x)``; physical points are ``(x, y, z)`` in Å with voxel ``(i_z, i_y, i_x)``
centred at ``(i_x, i_y, i_z) * voxel_size_ang + origin_xyz_ang``. Orientations are RELION ZYZ
Euler angles in degrees. Every writer is atomic. Every file name and suffix is made in
:mod:`cryomem.io._layout`.
"""

from cryomem.io._atomic import atomic_directory, atomic_file_set, atomic_write_path, write_rows_csv
from cryomem.io._conventions import (
    centered_ang_to_xyz_px,
    euler_zyz_deg_to_matrix,
    matrix_to_euler_zyz_deg,
    normals_to_euler_zyz_deg,
    validate_voxel_size_ang,
    xyz_ang_to_xyz_px,
    xyz_ang_to_zyx_index,
    xyz_px_to_centered_ang,
    xyz_px_to_xyz_ang,
    zyx_index_to_xyz_ang,
)
from cryomem.io._layout import (
    DERIVED_VOLUME_SUFFIXES,
    MEMBRANE_SUFFIXES,
    MRC_SUFFIXES,
    SEGMENT_OUTPUTS,
    SKELETON_SUFFIX,
    STATS_MESH_FOLDER,
    TRAINING_SPLITS,
    CountProgress,
    FractionProgress,
    is_derived_volume,
    is_mrc_path,
    membrane_files_in,
    membrane_stem,
    parse_membrane_stem,
    particles_star_name,
    segment_output_name,
    segment_output_paths,
    simulation_file_names,
    skeleton_path,
    stats_mesh_name,
    stats_plot_name,
    stats_summary_name,
    stats_table_name,
    training_data_folders,
)
from cryomem.io._membrane_h5 import (
    MEMBRANE_FORMAT,
    MEMBRANE_FORMAT_VERSION,
    MembraneSurface,
    read_membrane_h5,
    write_membrane_h5,
)
from cryomem.io._mesh import MESH_SUFFIXES, Mesh, read_mesh, write_mesh
from cryomem.io._model_file import ModelCard, load_model_file, save_model_file
from cryomem.io._mrc import MrcHeader, Volume, read_mrc, read_mrc_header, write_mrc
from cryomem.io._star import PARTICLE_COLUMNS, read_particles_star, write_particles_star
from cryomem.io._volume_values import NonFiniteBorder, check_tomogram_values
from cryomem.io._yaml import read_yaml_mapping

__all__ = [
    "DERIVED_VOLUME_SUFFIXES",
    "MEMBRANE_SUFFIXES",
    "MRC_SUFFIXES",
    "SEGMENT_OUTPUTS",
    "SKELETON_SUFFIX",
    "STATS_MESH_FOLDER",
    "TRAINING_SPLITS",
    "CountProgress",
    "FractionProgress",
    "is_derived_volume",
    "is_mrc_path",
    "membrane_files_in",
    "membrane_stem",
    "parse_membrane_stem",
    "particles_star_name",
    "segment_output_name",
    "segment_output_paths",
    "simulation_file_names",
    "skeleton_path",
    "stats_mesh_name",
    "stats_plot_name",
    "stats_summary_name",
    "stats_table_name",
    "training_data_folders",
    "MEMBRANE_FORMAT",
    "MEMBRANE_FORMAT_VERSION",
    "MESH_SUFFIXES",
    "PARTICLE_COLUMNS",
    "MembraneSurface",
    "Mesh",
    "ModelCard",
    "MrcHeader",
    "NonFiniteBorder",
    "Volume",
    "atomic_directory",
    "read_yaml_mapping",
    "atomic_file_set",
    "atomic_write_path",
    "write_rows_csv",
    "centered_ang_to_xyz_px",
    "check_tomogram_values",
    "euler_zyz_deg_to_matrix",
    "load_model_file",
    "matrix_to_euler_zyz_deg",
    "normals_to_euler_zyz_deg",
    "read_membrane_h5",
    "read_mesh",
    "read_mrc",
    "read_mrc_header",
    "read_particles_star",
    "save_model_file",
    "validate_voxel_size_ang",
    "write_membrane_h5",
    "write_mesh",
    "write_mrc",
    "write_particles_star",
    "xyz_ang_to_xyz_px",
    "xyz_ang_to_zyx_index",
    "xyz_px_to_centered_ang",
    "xyz_px_to_xyz_ang",
    "zyx_index_to_xyz_ang",
]
