"""Per-vertex principal curvatures of a membrane mesh at a chosen length scale.

Method (standard differential geometry of a height function; see e.g. do Carmo, *Differential
Geometry of Curves and Surfaces*, §3-3, and Cazals & Pouget 2005 for the fitting idea):

1. The neighbourhood of each vertex is every vertex within ``r = 10 * scale_nm`` Å on the same sheet
   (:class:`~cryomem.morph._neighbourhoods.NeighbourhoodSearch`: Euclidean ball, same connected
   component, normals within 90°), at most ``max_neighbours`` of them, spread evenly over the ball.
2. In the local frame ``(t1, t2, n)`` of the vertex (``n`` its unit normal, ``t1``, ``t2`` two tangents),
   the neighbours' offsets ``(u, v, w)`` are fitted by weighted least squares with the quadric height
   function ``w = p(u, v) = a u² + b uv + c v² + d u + e v + f``. The weights are Gaussian in the distance
   to the vertex, ``exp(-ρ² / 2σ²)`` with ``σ = r / 2`` (a neighbour at the rim of the ball weighs
   ``e⁻² ≈ 0.14``), so ``scale_nm`` is the radius of the patch that decides the curvature.
   A quadric height function overestimates the curvature of a sphere by about ``(r / R)² / 4`` (the
   ``ρ⁴ / 8R³`` term of the sphere's height is read as curvature). A second fit with the same weights and
   regressors, of ``w - g p²`` with ``g = -k / 2`` for the first fit's principal curvature ``k`` of largest
   magnitude, removes that term exactly for a sphere and a cylinder (``w = Q(u, v) - k w² / 2`` there)
   and mostly on other smooth surfaces; the height is then ``h = a u² + ... + f + g p²``. The correction
   sits in the response, not among the regressors, so noise in ``w`` does not bias it (a free ``w²``
   regressor would: errors in variables, 20-35% low on voxelised meshes).
3. At ``(u, v) = (0, 0)`` the fitted surface ``X(u, v) = (u, v, h(u, v))`` has first fundamental form
   ``I = [[1 + h_u², h_u h_v], [h_u h_v, 1 + h_v²]]`` and, for the unit normal ``N = (-h_u, -h_v, 1) / W``
   with ``W = sqrt(1 + h_u² + h_v²)``, second fundamental form ``II = [[h_uu, h_uv], [h_uv, h_vv]] / W``
   (``h_u ≈ d``, ``h_uu ≈ 2a``, ...). The first-order terms (the tilt of the fitted surface against
   the vertex normal) are kept. The shape operator is ``S = -I⁻¹ II``; its eigenvalues are the
   principal curvatures ``k1 >= k2``, its eigenvectors (tangent vectors ``x_u X_u + x_v X_v``) the
   principal directions. ``S`` is self-adjoint
   for ``I``, so it is diagonalised as the symmetric ``-R⁻ᵀ II R⁻¹`` with ``I = Rᵀ R`` (Cholesky), in
   closed form for 2 × 2 matrices, batched over all vertices.

Sign convention: normals point out of the membrane (cryomem meshes are wound outward). The minus sign
in ``S`` makes a surface that bends away from its normal positive: a sphere of radius ``r`` with
outward normals has ``k1 = k2 = 1/r``, mean curvature ``H = (k1 + k2) / 2 = +1/r`` and Gaussian
curvature ``K = k1 k2 = 1/r²``; a cylinder of radius ``r`` has ``k1 = 1/r``, ``k2 = 0``, ``H = 1/(2r)``,
``K = 0``. Flipping the normals flips the sign of ``H``, ``k1``, ``k2`` (and swaps them), not of ``K``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from cryomem.morph._neighbourhoods import DEFAULT_MAX_NEIGHBOURS, NeighbourhoodSearch

__all__ = ["MIN_NEIGHBOURS", "Curvature", "curvature_at_scale"]

MIN_NEIGHBOURS = 8
"""Fewest neighbours (the vertex included) for a fit of the 6-parameter quadric with a residual left over."""

WEIGHT_SIGMA_FRACTION = 0.5
"""Gaussian weight sigma as a fraction of the neighbourhood radius."""

_CHUNK_VERTICES = 8192
"""Vertices fitted at once (bounds memory at about ``chunk * max_neighbours * 100`` bytes)."""

_ANG_PER_NM = 10.0


@dataclass(frozen=True, eq=False)
class Curvature:
    """Principal curvatures of every vertex at one scale (values NaN where ``valid`` is False).

    Attributes
    ----------
    mean_per_nm : (n,) float array
        Mean curvature ``H = (k1 + k2) / 2``, 1/nm; ``+1/r`` on a sphere of radius ``r`` with outward normals.
    gaussian_per_nm2 : (n,) float array
        Gaussian curvature ``K = k1 k2``, 1/nm².
    k1_per_nm, k2_per_nm : (n,) float arrays
        Principal curvatures, ``k1 >= k2``, 1/nm (positive: the surface bends away from its normal).
    direction1_xyz, direction2_xyz : (n, 3) float arrays
        Unit principal directions of ``k1`` and ``k2``, tangent to the fitted surface, xyz; the sign of a
        direction is arbitrary.
    curvedness_per_nm : (n,) float array
        ``sqrt((k1² + k2²) / 2)``, 1/nm.
    shape_index : (n,) float array
        ``(2/π) arctan((k1 + k2) / (k1 - k2))`` in [-1, 1]: +1 sphere (outward normals), +0.5 cylinder,
        0 saddle, -0.5 inner side of a cylinder, -1 inner side of a sphere; NaN where ``k1 = k2 = 0``.
    fit_residual_nm : (n,) float array
        Weighted RMS distance, along the vertex normal, of the neighbours from the fitted quadric, nm.
    valid : (n,) bool array
        At least :data:`MIN_NEIGHBOURS` neighbours, a unit normal and a well-posed fit.
    scale_nm : float
        Radius of the neighbourhoods, nm.
    """

    mean_per_nm: np.ndarray
    gaussian_per_nm2: np.ndarray
    k1_per_nm: np.ndarray
    k2_per_nm: np.ndarray
    direction1_xyz: np.ndarray
    direction2_xyz: np.ndarray
    curvedness_per_nm: np.ndarray
    shape_index: np.ndarray
    fit_residual_nm: np.ndarray
    valid: np.ndarray
    scale_nm: float


def curvature_at_scale(
    vertices_xyz_ang: ArrayLike,
    faces: ArrayLike,
    *,
    scale_nm: float,
    normals_xyz: ArrayLike | None = None,
    max_neighbours: int = DEFAULT_MAX_NEIGHBOURS,
) -> Curvature:
    """Principal curvatures of every vertex from a quadric fitted over its neighbourhood of radius ``scale_nm``.

    See the module docstring for the method and the sign convention.

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz.
    faces : (m, 3) int array
        Triangles as vertex indices (for the connected components and, by default, the normals).
    scale_nm : float
        Neighbourhood radius, nm: curvature radii much smaller than it are smoothed away. Use a few
        vertex spacings at least (a mesh from ``cryomem surface`` at 10 Å voxels has 15 Å spacing:
        ``scale_nm >= 5`` gives some 40 neighbours).
    normals_xyz : (n, 3) float array, optional
        Unit normals pointing out of the membrane; default
        :func:`cryomem.geometry.vertex_normals` (outward for cryomem meshes).
    max_neighbours : int, default 96
        Neighbours kept per vertex (an even subset of the ball when it holds more); sets the cost.

    Returns
    -------
    Curvature
        Per-vertex curvatures in 1/nm (Å values times 10), directions, fit residual, validity.

    Raises
    ------
    ValueError
        A bad ``scale_nm`` (not positive and finite, or larger than half the membrane's bounding-box
        diagonal), bad array shapes, or non-finite vertices.
    """
    scale = float(scale_nm)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale_nm must be a positive number of nm, got {scale_nm}; pass e.g. --scale-nm 10")
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
        raise ValueError(f"vertices_xyz_ang must be a non-empty (n, 3) array, got shape {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must be an (m, 3) array of vertex indices, got shape {faces.shape}")
    if not np.all(np.isfinite(vertices)):
        raise ValueError("vertices_xyz_ang holds NaN or infinite values; clean the mesh first")
    if max_neighbours < MIN_NEIGHBOURS:
        raise ValueError(f"max_neighbours must be >= {MIN_NEIGHBOURS} for the quadric fit, got {max_neighbours}")
    extent_nm = 0.5 * float(np.linalg.norm(vertices.max(axis=0) - vertices.min(axis=0))) / _ANG_PER_NM
    if scale > extent_nm:
        raise ValueError(
            f"scale {scale:g} nm is larger than the membrane (extent {extent_nm:.3g} nm, half its bounding-box "
            "diagonal); choose a smaller --scale-nm"
        )
    if normals_xyz is None:
        from cryomem.geometry import vertex_normals

        normals = vertex_normals(vertices, faces)
    else:
        normals = np.asarray(normals_xyz, dtype=np.float64)
        if normals.shape != vertices.shape:
            raise ValueError(f"normals_xyz must have the shape of the vertices {vertices.shape}, got {normals.shape}")
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)

    radius_ang = scale * _ANG_PER_NM
    search = NeighbourhoodSearch(vertices, faces, normals, radius_ang, max_neighbours=max_neighbours)
    n = len(vertices)
    k1 = np.full(n, np.nan)
    k2 = np.full(n, np.nan)
    dir1 = np.full((n, 3), np.nan)
    dir2 = np.full((n, 3), np.nan)
    residual = np.full(n, np.nan)
    valid = np.zeros(n, dtype=bool)
    for start in range(0, n, _CHUNK_VERTICES):
        rows = np.arange(start, min(start + _CHUNK_VERTICES, n))
        fit = _fit_chunk(vertices, normals, search.of(rows).indices, rows, radius_ang)
        k1[rows], k2[rows], dir1[rows], dir2[rows], residual[rows], valid[rows] = fit
    k1_nm, k2_nm = k1 * _ANG_PER_NM, k2 * _ANG_PER_NM
    with np.errstate(invalid="ignore", divide="ignore"):
        shape_index = (2.0 / np.pi) * np.arctan2(k1_nm + k2_nm, k1_nm - k2_nm)
    shape_index = np.where((k1_nm == 0) & (k2_nm == 0), np.nan, shape_index)
    return Curvature(
        mean_per_nm=0.5 * (k1_nm + k2_nm),
        gaussian_per_nm2=k1_nm * k2_nm,
        k1_per_nm=k1_nm,
        k2_per_nm=k2_nm,
        direction1_xyz=dir1,
        direction2_xyz=dir2,
        curvedness_per_nm=np.sqrt(0.5 * (k1_nm**2 + k2_nm**2)),
        shape_index=shape_index,
        fit_residual_nm=residual / _ANG_PER_NM,
        valid=valid,
        scale_nm=scale,
    )


def _tangent_frames(normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit tangents ``t1``, ``t2 = n × t1`` per unit normal (arbitrary but smooth within each region)."""
    helper = np.zeros_like(normals)
    use_y = np.abs(normals[:, 0]) > 0.9
    helper[~use_y, 0] = 1.0
    helper[use_y, 1] = 1.0
    t1 = helper - np.einsum("ij,ij->i", helper, normals)[:, None] * normals
    t1 /= np.maximum(np.linalg.norm(t1, axis=1, keepdims=True), 1e-300)
    return t1, np.cross(normals, t1)


def _fit_chunk(
    vertices: np.ndarray, normals: np.ndarray, indices: np.ndarray, rows: np.ndarray, radius_ang: float
) -> tuple[np.ndarray, ...]:
    """Quadric fits of the vertices ``rows`` (neighbours ``indices``, ``-1`` padded); curvatures in 1/Å."""
    present = indices >= 0
    normal = normals[rows]
    has_normal = np.linalg.norm(normal, axis=1) > 0.5
    t1, t2 = _tangent_frames(np.where(has_normal[:, None], normal, [0.0, 0.0, 1.0]))
    # offsets in the local frame, scaled by the radius so the normal equations are well conditioned
    offsets = (vertices[np.where(present, indices, rows[:, None])] - vertices[rows][:, None, :]) / radius_ang
    u = np.einsum("mkj,mj->mk", offsets, t1)
    v = np.einsum("mkj,mj->mk", offsets, t2)
    w = np.einsum("mkj,mj->mk", offsets, normal)
    rho2 = np.einsum("mkj,mkj->mk", offsets, offsets)
    weight = np.where(present, np.exp(-rho2 / (2.0 * WEIGHT_SIGMA_FRACTION**2)), 0.0)
    # first fit: w = a u² + b uv + c v² + d u + e v + f, everything in units of the radius
    design = np.stack([u * u, u * v, v * v, u, v, np.ones_like(u)], axis=-1)  # (m, k, 6)
    weighted = design * weight[..., None]
    normal_matrix = np.matmul(weighted.transpose(0, 2, 1), design)  # (m, 6, 6)
    trace = np.maximum(np.trace(normal_matrix, axis1=1, axis2=2), 1e-300)
    well_posed = np.linalg.eigvalsh(normal_matrix)[:, 0] > 1e-9 * trace
    normal_matrix += (1e-12 * trace)[:, None, None] * np.eye(6)
    first = np.linalg.solve(normal_matrix, np.einsum("mkp,mk->mp", weighted, w)[..., None])[..., 0]
    # second fit, of w - g p² with p the first fit and g = -k/2 for its principal curvature k of largest
    # magnitude: that removes the quartic term of a sphere or a cylinder exactly (w = Q - k w² / 2 there)
    a0, b0, c0, d0, e0, f0 = first.T
    spread0 = np.hypot(a0 - c0, b0)
    dominant = np.where(a0 + c0 > 0, -(a0 + c0) - spread0, -(a0 + c0) + spread0)  # k of -[[2a, b], [b, 2c]]
    g = -0.5 * dominant
    previous = np.einsum("mkp,mp->mk", design, first)
    target = w - g[:, None] * previous * previous
    coef = np.linalg.solve(normal_matrix, np.einsum("mkp,mk->mp", weighted, target)[..., None])[..., 0]
    misfit = target - np.einsum("mkp,mp->mk", design, coef)
    residual = radius_ang * np.sqrt((weight * misfit**2).sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-300))

    # derivatives of h = a u² + b uv + c v² + d u + e v + f + g p², p = first fit, at (0, 0), scaled units
    a, b, c, d, e, _ = coef.T
    h_u = d + 2.0 * g * f0 * d0
    h_v = e + 2.0 * g * f0 * e0
    # back to Å: w = r ŵ, u = r û, so second derivatives divide by r, first derivatives are unchanged
    h_uu = (2.0 * a + 2.0 * g * (d0 * d0 + 2.0 * f0 * a0)) / radius_ang
    h_uv = (b + 2.0 * g * (d0 * e0 + f0 * b0)) / radius_ang
    h_vv = (2.0 * c + 2.0 * g * (e0 * e0 + 2.0 * f0 * c0)) / radius_ang

    big_e, big_f, big_g = 1.0 + h_u * h_u, h_u * h_v, 1.0 + h_v * h_v  # first fundamental form
    tilt = np.sqrt(1.0 + h_u * h_u + h_v * h_v)
    ll, mm, nn = h_uu / tilt, h_uv / tilt, h_vv / tilt  # second fundamental form, unit normal (-h_u, -h_v, 1)
    # Cholesky I = Rᵀ R with R = [[r11, r12], [0, r22]]; P = R⁻¹ = [[p11, p12], [0, p22]]
    r11 = np.sqrt(big_e)
    r12 = big_f / r11
    r22 = np.sqrt(np.maximum(big_g - r12 * r12, 1e-300))
    p11, p12, p22 = 1.0 / r11, -r12 / (r11 * r22), 1.0 / r22
    # S' = -Pᵀ II P = [[s11, s12], [s12, s22]], similar to the shape operator S = -I⁻¹ II = P S' P⁻¹
    s11 = -(p11 * p11 * ll)
    s12 = -(p11 * (p12 * ll + p22 * mm))
    s22 = -(p12 * p12 * ll + 2.0 * p12 * p22 * mm + p22 * p22 * nn)
    half_sum, half_diff = 0.5 * (s11 + s22), 0.5 * (s11 - s22)
    spread = np.hypot(half_diff, s12)
    k1, k2 = half_sum + spread, half_sum - spread
    angle = 0.5 * np.arctan2(s12, half_diff)  # eigenvector (cos, sin) of S' for the larger eigenvalue

    def to_xyz(y0: np.ndarray, y1: np.ndarray) -> np.ndarray:
        xu, xv = p11 * y0 + p12 * y1, p22 * y1  # eigenvector of S: x = P y; tangent x_u X_u + x_v X_v
        vec = xu[:, None] * t1 + xv[:, None] * t2 + (h_u * xu + h_v * xv)[:, None] * normal
        return vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-300)

    direction1 = to_xyz(np.cos(angle), np.sin(angle))
    direction2 = to_xyz(-np.sin(angle), np.cos(angle))

    valid = (present.sum(axis=1) >= MIN_NEIGHBOURS) & has_normal & well_posed & np.isfinite(k1) & np.isfinite(k2)
    nan = np.where(valid, 1.0, np.nan)
    return (
        k1 * nan,
        k2 * nan,
        direction1 * nan[:, None],
        direction2 * nan[:, None],
        residual * nan,
        valid,
    )
