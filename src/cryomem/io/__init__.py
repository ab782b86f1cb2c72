"""File formats and the one place for coordinate and angle conventions.

Arrays are ``(z, y, x)``; physical points are ``(x, y, z)`` in Å with voxel ``(i_z, i_y, i_x)``
centred at ``(i_x, i_y, i_z) * voxel_size_ang + origin_xyz_ang``. Orientations are RELION ZYZ
Euler angles in degrees. Every writer is atomic.
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
from cryomem.io._membrane_h5 import (
    MEMBRANE_FORMAT,
    MEMBRANE_FORMAT_VERSION,
    MembraneSurface,
    read_membrane_h5,
    write_membrane_h5,
)
from cryomem.io._mesh import MESH_SUFFIXES, Mesh, read_mesh, write_mesh
from cryomem.io._mrc import MrcHeader, Volume, read_mrc, read_mrc_header, write_mrc
from cryomem.io._star import PARTICLE_COLUMNS, read_particles_star, write_particles_star
from cryomem.io._volume_values import NonFiniteBorder, check_tomogram_values
from cryomem.io._yaml import read_yaml_mapping

__all__ = [
    "MEMBRANE_FORMAT",
    "MEMBRANE_FORMAT_VERSION",
    "MESH_SUFFIXES",
    "PARTICLE_COLUMNS",
    "MembraneSurface",
    "Mesh",
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
    "matrix_to_euler_zyz_deg",
    "normals_to_euler_zyz_deg",
    "read_membrane_h5",
    "read_mesh",
    "read_mrc",
    "read_mrc_header",
    "read_particles_star",
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
