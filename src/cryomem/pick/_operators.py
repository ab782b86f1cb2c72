"""DiffusionNet's precomputed surface operators, and an on-disk cache for them.

For one mesh (in practice one geodesic patch of a membrane) DiffusionNet needs

* the lumped mass ``M`` (Å² per vertex) and the first ``k`` generalised eigenpairs of the cotangent
  Laplacian, ``L φ = λ M φ`` with ``Φᵀ M Φ = I`` (``λ`` in 1/Å²): diffusion for a time ``t`` (Å²)
  is then ``x(t) = Φ diag(exp(-λ t)) Φᵀ M x`` (spectral acceleration, Sharp et al. 2022, Sec. 3.2);
* a per-vertex gradient operator in a tangent frame ``(e1, e2)`` built from the vertex normal: the
  gradient of a scalar field at vertex ``i`` is the least-squares fit of
  ``f_j - f_i ≈ g · P(v_j - v_i)`` over the one-ring neighbours ``j`` (``P`` projects onto the
  tangent plane), so it is exact for a linear field on a plane. It is stored as two sparse matrices
  (``∂/∂e1``, ``∂/∂e2``, 1/Å) in coordinate form.

Eigen-decompositions cost about a second per 2,000-vertex patch, so :class:`OperatorCache` keeps
them on disk, keyed by a hash of the vertices, faces, normals and ``k``; cache writes are atomic.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from threadpoolctl import threadpool_limits

from cryomem.geometry import laplacian_and_mass, vertex_normals
from cryomem.io import atomic_write_path

__all__ = ["OPERATOR_VERSION", "OperatorCache", "SurfaceOperators", "compute_operators", "default_operator_cache_dir"]

OPERATOR_VERSION = 1
_DENSE_LIMIT = 400  # below this many vertices a dense eigen-solver is fast and the most robust


@dataclass(frozen=True, eq=False)
class SurfaceOperators:
    """The operators DiffusionNet needs on one mesh.

    Attributes
    ----------
    mass_ang2 : (n,) float32 array
        Lumped vertex mass, Å² (sums to the mesh area).
    eigenvalues_per_ang2 : (k,) float32 array
        Smallest generalised Laplacian eigenvalues, 1/Å², ascending (zero-padded past ``n - 1``).
    eigenvectors : (n, k) float32 array
        Matching eigenvectors, orthonormal in the mass inner product (``Φᵀ M Φ = I``); columns past
        the mesh's rank are zero.
    gradient_rows, gradient_cols : (nnz,) int64 arrays
        Coordinate-form sparsity pattern of the gradient operator (row = vertex where the gradient
        is evaluated).
    gradient_e1_per_ang, gradient_e2_per_ang : (nnz,) float32 arrays
        Entries of the derivative along the tangent axes ``e1`` and ``e2``, 1/Å.
    tangent_frames_xyz : (n, 2, 3) float32 array
        The unit tangent axes ``e1, e2`` per vertex (``e1 × e2`` = the normal), xyz.
    """

    mass_ang2: np.ndarray
    eigenvalues_per_ang2: np.ndarray
    eigenvectors: np.ndarray
    gradient_rows: np.ndarray
    gradient_cols: np.ndarray
    gradient_e1_per_ang: np.ndarray
    gradient_e2_per_ang: np.ndarray
    tangent_frames_xyz: np.ndarray

    @property
    def n_vertices(self) -> int:
        return len(self.mass_ang2)

    @property
    def k_eig(self) -> int:
        return len(self.eigenvalues_per_ang2)

    def gradient_matrices(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """The two tangent derivative operators as ``(n, n)`` scipy CSR matrices, 1/Å."""
        shape = (self.n_vertices, self.n_vertices)
        return tuple(  # type: ignore[return-value]
            sp.csr_matrix((values.astype(np.float64), (self.gradient_rows, self.gradient_cols)), shape=shape)
            for values in (self.gradient_e1_per_ang, self.gradient_e2_per_ang)
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def tangent_frames(normals_xyz: np.ndarray) -> np.ndarray:
    """Unit tangent axes ``(e1, e2)`` per vertex, ``(n, 2, 3)``, with ``e1 × e2 = n``."""
    normals = normals_xyz / np.maximum(np.linalg.norm(normals_xyz, axis=1, keepdims=True), 1e-12)
    reference = np.zeros_like(normals)
    use_y = np.abs(normals[:, 0]) > 0.9
    reference[~use_y, 0] = 1.0
    reference[use_y, 1] = 1.0
    e1 = reference - np.sum(reference * normals, axis=1, keepdims=True) * normals
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(normals, e1)
    return np.stack([e1, e2], axis=1)


def _gradient_operator(
    vertices: np.ndarray, faces: np.ndarray, frames: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares one-ring gradient in the tangent frames, in coordinate form."""
    n = len(vertices)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.concatenate([edges, edges[:, ::-1]]), axis=0)  # both directions, once each
    i, j = edges[:, 0], edges[:, 1]
    offsets = vertices[j] - vertices[i]
    d = np.stack([np.sum(offsets * frames[i, 0], axis=1), np.sum(offsets * frames[i, 1], axis=1)], axis=1)
    # normal equations A_i = Σ_j d_ij d_ijᵀ (2x2 per vertex), with a tiny ridge for degenerate rings
    a11 = np.bincount(i, d[:, 0] * d[:, 0], minlength=n)
    a12 = np.bincount(i, d[:, 0] * d[:, 1], minlength=n)
    a22 = np.bincount(i, d[:, 1] * d[:, 1], minlength=n)
    ridge = 1e-10 * np.maximum(a11 + a22, 1e-30)
    a11, a22 = a11 + ridge, a22 + ridge
    det = a11 * a22 - a12 * a12
    inv11, inv12, inv22 = a22 / det, -a12 / det, a11 / det
    w1 = inv11[i] * d[:, 0] + inv12[i] * d[:, 1]  # weight of f_j - f_i in ∂/∂e1 at vertex i
    w2 = inv12[i] * d[:, 0] + inv22[i] * d[:, 1]
    diagonal_1 = -np.bincount(i, w1, minlength=n)
    diagonal_2 = -np.bincount(i, w2, minlength=n)
    rows = np.concatenate([i, np.arange(n)])
    cols = np.concatenate([j, np.arange(n)])
    return rows, cols, np.concatenate([w1, diagonal_1]), np.concatenate([w2, diagonal_2])


def _eigenpairs(laplacian: sp.csr_matrix, mass: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Smallest ``k`` generalised eigenpairs of ``(L, diag(mass))``, zero-padded to ``k`` columns."""
    n = len(mass)
    k_solved = min(k, n - 1)
    area = float(mass.sum())
    values = vectors = None
    if n > _DENSE_LIMIT:
        try:
            start = np.random.default_rng(0).standard_normal(n)  # ARPACK's own start changes per call
            values, vectors = sla.eigsh(
                laplacian.tocsc(), k=k_solved, M=sp.diags(mass).tocsc(), sigma=-0.01 / area, which="LM", v0=start
            )
        except (RuntimeError, sla.ArpackNoConvergence, sla.ArpackError):
            values = None
    if values is None:
        values, vectors = scipy.linalg.eigh(laplacian.toarray(), np.diag(mass), subset_by_index=[0, k_solved - 1])
    order = np.argsort(values)
    values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
    vectors /= np.sqrt(np.sum(mass[:, None] * vectors**2, axis=0, keepdims=True))  # exact M-orthonormality
    padded_values = np.zeros(k)
    padded_vectors = np.zeros((n, k))
    padded_values[:k_solved] = values
    padded_values[k_solved:] = values[-1] if k_solved else 0.0
    padded_vectors[:, :k_solved] = vectors
    return padded_values, padded_vectors


def compute_operators(
    vertices_xyz_ang: np.ndarray, faces: np.ndarray, *, k_eig: int = 128, normals_xyz: np.ndarray | None = None
) -> SurfaceOperators:
    """Mass, Laplacian eigenbasis and tangent gradient operator of one mesh.

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz. Every vertex must belong to a triangle.
    faces : (m, 3) int array
        Triangles.
    k_eig : int, default 128
        Number of eigenpairs kept (the mesh's ``n - 1`` at most; the rest are zero-padded).
    normals_xyz : (n, 3) float array, optional
        Vertex normals defining the tangent frames; computed from the mesh when omitted.

    Returns
    -------
    SurfaceOperators

    Raises
    ------
    ValueError
        Fewer than 3 vertices, a vertex in no triangle, or ``k_eig < 1``.
    """
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if k_eig < 1:
        raise ValueError(f"k_eig must be >= 1, got {k_eig}")
    if len(vertices) < 3 or len(faces) == 0:
        raise ValueError(f"a mesh needs at least 3 vertices and 1 triangle, got {len(vertices)} and {len(faces)}")
    if len(np.unique(faces)) != len(vertices):
        raise ValueError("every vertex must belong to a triangle; drop unused vertices before computing operators")
    laplacian, mass = laplacian_and_mass(vertices, faces)
    mass = np.maximum(mass, 1e-8 * float(mass.mean()))
    with threadpool_limits(limits=1, user_api="blas"):  # small dense blocks: threads only add overhead
        values, vectors = _eigenpairs(sp.csr_matrix(laplacian), mass, k_eig)
    normals = vertex_normals(vertices, faces) if normals_xyz is None else np.asarray(normals_xyz, dtype=np.float64)
    if normals.shape != vertices.shape:
        raise ValueError(f"normals_xyz must have shape {vertices.shape}, got {normals.shape}")
    frames = tangent_frames(normals)
    rows, cols, g1, g2 = _gradient_operator(vertices, faces, frames)
    return SurfaceOperators(
        mass_ang2=mass.astype(np.float32),
        eigenvalues_per_ang2=values.astype(np.float32),
        eigenvectors=vectors.astype(np.float32),
        gradient_rows=rows.astype(np.int64),
        gradient_cols=cols.astype(np.int64),
        gradient_e1_per_ang=g1.astype(np.float32),
        gradient_e2_per_ang=g2.astype(np.float32),
        tangent_frames_xyz=frames.astype(np.float32),
    )


def default_operator_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cryomem/operators`` (``~/.cache/cryomem/operators`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cryomem" / "operators"


class OperatorCache:
    """Operators computed once per mesh and kept on disk.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Folder of the cache files (created on first write); default
        :func:`default_operator_cache_dir`.

    Notes
    -----
    The key is a SHA-256 of the vertex and normal coordinates (float64), the faces (int64), ``k``
    and :data:`OPERATOR_VERSION`; a file is ``<key>.npz``, written atomically. ``hits`` and
    ``misses`` count lookups since creation.
    """

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_operator_cache_dir()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(vertices_xyz_ang: np.ndarray, faces: np.ndarray, k_eig: int, normals_xyz: np.ndarray | None) -> str:
        digest = hashlib.sha256()
        digest.update(f"cryomem-operators-v{OPERATOR_VERSION}-k{int(k_eig)}".encode())
        digest.update(np.ascontiguousarray(vertices_xyz_ang, dtype=np.float64).tobytes())
        digest.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
        if normals_xyz is not None:
            digest.update(np.ascontiguousarray(normals_xyz, dtype=np.float64).tobytes())
        return digest.hexdigest()

    def path(self, vertices_xyz_ang: np.ndarray, faces: np.ndarray, k_eig: int, normals_xyz: np.ndarray | None) -> Path:
        return self.cache_dir / f"{self.key(vertices_xyz_ang, faces, k_eig, normals_xyz)}.npz"

    def get(
        self,
        vertices_xyz_ang: np.ndarray,
        faces: np.ndarray,
        *,
        k_eig: int = 128,
        normals_xyz: np.ndarray | None = None,
    ) -> SurfaceOperators:
        """The operators of a mesh: read from the cache, or computed and stored (arguments as in
        :func:`compute_operators`)."""
        path = self.path(vertices_xyz_ang, faces, k_eig, normals_xyz)
        if path.is_file():
            try:
                with np.load(path) as data:
                    operators = SurfaceOperators(**{f.name: data[f.name] for f in fields(SurfaceOperators)})
                self.hits += 1
                return operators
            except (OSError, KeyError, ValueError):
                pass  # unreadable entry: recompute and replace it
        self.misses += 1
        operators = compute_operators(vertices_xyz_ang, faces, k_eig=k_eig, normals_xyz=normals_xyz)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **operators.to_arrays())
        return operators
