"""DiffusionNet pieces: spectral diffusion, gradient features, the whole picking network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pick_model_meshes import sphere

from cryomem.pick import DiffusionNetConfig, PickNet, compute_operators, operators_to_torch, parameter_count
from cryomem.pick._diffusion_net import LearnedDiffusion, SpatialGradientFeatures

RADIUS = 100.0


@pytest.fixture(scope="module")
def sphere_ops():
    vertices, faces, normals = sphere(RADIUS, subdivisions=3)
    return vertices, compute_operators(vertices, faces, k_eig=64, normals_xyz=normals)


def _diffuse_delta(ops, source: int, times_ang2: list[float]) -> np.ndarray:
    tensors = operators_to_torch(ops)
    delta = torch.zeros(ops.n_vertices, len(times_ang2), dtype=torch.float64)
    delta[source] = 1.0 / float(ops.mass_ang2[source])  # unit mass at one vertex
    tensors64 = {k: (v.double() if v.is_floating_point() else v) for k, v in tensors.items()}
    out = LearnedDiffusion(len(times_ang2)).double()(delta, tensors64, torch.tensor(times_ang2, dtype=torch.float64))
    return out.numpy()


def test_delta_spreads_monotonically_and_conserves_mass(sphere_ops):
    vertices, ops = sphere_ops
    source = 0
    times = [200.0, 500.0, 1000.0, 2000.0, 5000.0, 20000.0, 100000.0]
    heat = _diffuse_delta(ops, source, times)
    mass = ops.mass_ang2.astype(np.float64)
    totals = mass @ heat
    np.testing.assert_allclose(totals, 1.0, rtol=1e-5)  # Σ M x conserved
    squared = np.sum((vertices - vertices[source]) ** 2, axis=1)
    spread = (mass * squared) @ heat  # second moment about the source, Å²
    peak = heat[source]
    assert np.all(np.diff(spread) > 0)
    assert np.all(np.diff(peak) < 0)
    # heat decays towards the uniform distribution 1 / area
    np.testing.assert_allclose(heat[:, -1], 1.0 / mass.sum(), rtol=0.05)


def test_first_harmonic_decays_at_its_eigenvalue(sphere_ops):
    """The mean of cos θ (an l = 1 eigenfunction) under the heat kernel decays as exp(-2 t / r²)."""
    vertices, ops = sphere_ops
    source = 0
    cos_theta = vertices @ (vertices[source] / RADIUS) / RADIUS
    times = [500.0, 2000.0, 8000.0]
    heat = _diffuse_delta(ops, source, times)
    mean_cos = (ops.mass_ang2 * cos_theta) @ heat
    np.testing.assert_allclose(mean_cos, np.exp(-2.0 * np.array(times) / RADIUS**2), rtol=0.02)


def test_diffusion_time_stays_positive_and_learns(sphere_ops):
    _, ops = sphere_ops
    layer = LearnedDiffusion(4)
    with torch.no_grad():
        layer.log_time_ang2.fill_(-30.0)
    assert torch.all(layer.time_ang2 > 0)
    x = torch.randn(ops.n_vertices, 4)
    layer(x, operators_to_torch(ops)).pow(2).sum().backward()
    assert layer.log_time_ang2.grad is not None and torch.all(torch.isfinite(layer.log_time_ang2.grad))


def test_gradient_features_do_not_depend_on_the_tangent_frame(sphere_ops):
    """Rotating every tangent frame by its own angle multiplies g by e^{-iθ}; the features must not change."""
    _, ops = sphere_ops
    tensors = operators_to_torch(ops)
    angle = torch.from_numpy(np.random.default_rng(1).uniform(0, 2 * np.pi, ops.n_vertices)).float()
    rows = tensors["gradient_rows"]
    c, s = torch.cos(angle[rows]), torch.sin(angle[rows])
    rotated = dict(tensors)
    rotated["gradient_e1_per_ang"] = c * tensors["gradient_e1_per_ang"] + s * tensors["gradient_e2_per_ang"]
    rotated["gradient_e2_per_ang"] = -s * tensors["gradient_e1_per_ang"] + c * tensors["gradient_e2_per_ang"]
    torch.manual_seed(0)
    layer = SpatialGradientFeatures(6, length_unit_ang=50.0)
    x = torch.randn(ops.n_vertices, 6)
    torch.testing.assert_close(layer(x, tensors), layer(x, rotated), atol=1e-5, rtol=1e-4)


def test_gradient_features_of_a_constant_are_zero(sphere_ops):
    _, ops = sphere_ops
    layer = SpatialGradientFeatures(3, length_unit_ang=50.0)
    out = layer(torch.ones(ops.n_vertices, 3) * 2.5, operators_to_torch(ops))
    assert float(out.detach().abs().max()) < 1e-4


def test_picknet_outputs_one_value_per_vertex_and_backpropagates(sphere_ops):
    _, ops = sphere_ops
    config = DiffusionNetConfig(in_samples=21, width=8, n_blocks=2, mlp_hidden=8, k_eig=64)
    torch.manual_seed(0)
    net = PickNet(config)
    features = torch.randn(ops.n_vertices, 21)
    out = net(features, operators_to_torch(ops))
    assert out.shape == (ops.n_vertices,) and out.dtype == torch.float32
    out.pow(2).mean().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert parameter_count(net) == sum(p.numel() for p in net.parameters())


def test_picknet_rejects_a_window_of_the_wrong_length(sphere_ops):
    _, ops = sphere_ops
    net = PickNet(DiffusionNetConfig(in_samples=21, width=4, n_blocks=1))
    with pytest.raises(ValueError, match=r"features must have shape \(n, 21\)"):
        net(torch.zeros(ops.n_vertices, 25), operators_to_torch(ops))


def test_picknet_is_rotation_invariant(sphere_ops):
    """Operators are intrinsic and features per vertex, so rotating the mesh changes nothing."""
    vertices, _ = sphere_ops
    _, faces, normals = sphere(RADIUS, subdivisions=3)
    rotation = np.linalg.qr(np.random.default_rng(2).normal(size=(3, 3)))[0]
    rotation *= np.linalg.det(rotation)
    ops_a = compute_operators(vertices, faces, k_eig=32, normals_xyz=normals)
    ops_b = compute_operators(vertices @ rotation.T, faces, k_eig=32, normals_xyz=normals @ rotation.T)
    torch.manual_seed(0)
    net = PickNet(DiffusionNetConfig(in_samples=5, width=8, n_blocks=2, k_eig=32)).eval()
    features = torch.randn(len(vertices), 5)
    with torch.no_grad():
        out_a = net(features, operators_to_torch(ops_a))
        out_b = net(features, operators_to_torch(ops_b))
    torch.testing.assert_close(out_a, out_b, atol=2e-4, rtol=1e-3)
