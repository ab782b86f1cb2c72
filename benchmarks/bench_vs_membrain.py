"""Side-by-side speed and accuracy of cryomem against the MemBrain v2 tools on identical inputs.

MemBrain v2 (membrain-seg, membrain-pick, membrain-stats) is never a dependency of cryomem: its side
runs in subprocesses with the python of a throw-away virtual environment (``--membrain-python``,
default /tmp/msvenv/bin/python) through a small driver script written to the work folder. Make it with

    python -m venv /tmp/msvenv && /tmp/msvenv/bin/pip install torch==2.13.0 membrain-seg membrain-pick \
        membrain-stats click

Inputs (written once into the work folder, the same files for both tools):

1. A 100 x 200 x 200 tomogram at 10 Å from cryomem's simulator with 3 vesicles and 2 (nearly planar,
   radius of curvature 5-20 µm) sheets, and its ground-truth membrane labels.
2. An icosphere of radius 500 Å with 40,962 vertices (subdivisions 6) and 300 particles drawn
   uniformly on the true sphere (seeded), as OBJ + per-membrane STAR (membrain-stats) and one
   particle STAR (cryomem).

Stages, each tool in its own fresh process, one after the other, same thread count (``--threads``,
passed as OMP_NUM_THREADS / MKL_NUM_THREADS and, on their side, ``torch.set_num_threads``):

- segmentation, without and (``--tta``) with 8-flip test-time augmentation. Ours:
  ``python -m cryomem segment predict TOMO --out DIR --no-tta`` (shipped model). Theirs: membrain-seg's
  default network (``SemanticSegmentationUnet()`` with default arguments: DynUNet, filters 32..1024),
  randomly initialised (no weights are on PyPI) and saved as a Lightning checkpoint, run through its
  own ``membrain_seg.segmentation.segment.segment(tomo, ckpt, out, test_time_augmentation=...)``
  with its defaults (160³ sliding windows, overlap 0.5). Timed end to end (interpreter start,
  imports, model load, inference, writing); peak resident size of the child from ``os.wait4`` of a
  small fresh launcher (a child's ``ru_maxrss`` starts at the size of the process it is forked
  from, so the benchmark itself never forks the measured command). Reported per megavoxel too.
  Dice against the simulator's labels is printed for both (theirs is untrained: expect ~0).
- surfaces of all membranes, both from OUR segmentation: ours ``python -m cryomem surface SEG
  --tomogram TOMO --out DIR``; theirs membrain-pick's CLI ``membrain_pick convert_mb_folder
  --mb-folder DIR --tomo-path TOMO --out-folder DIR --no-only-largest-component`` (its defaults
  otherwise: every connected component >= 1e4 voxels). End to end; vertices counted in the OBJ
  files each writes; seconds per 10k vertices.
- geodesic nearest neighbours (k = 1) and Ripley's L on the icosphere. Timed inside each child from
  before loading the inputs to the result (no interpreter start or imports): ours
  ``load_inputs`` + ``nearest_neighbours`` / ``ripley``; theirs ``geodesic_nearest_neighbors_folder``
  / ``geodesic_ripleys_folder(ripley_type="L")`` (both ``method="fast"``; they load the files
  themselves). Ripley bins: 2 nm wide, 50 bins (0-100 nm) on our side; membrain-stats cannot cap the
  radius, with ``bin_size=20`` Å it bins up to the largest particle distance (~157 nm) and the first
  50 bins are compared. Ours is timed without and with 20 CSR envelope simulations, its searches
  in as many processes as the threads the other side gets (``ripley(workers=--threads)``).
- ``--big``: peak memory and time of our segmentation (no TTA) of a 200 x 512 x 512 tomogram, the
  simulated one mirror-tiled (membrain-seg would take ~13x its 4-megavoxel time there; not run).

Accuracy against closed forms on the sphere (R = 50 nm, n particles, both tools snap particles to
mesh vertices):

- NN1 mean distance. Expected value for n uniform points: R ∫_0^π ((1 + cos θ)/2)^(n-1) dθ (numerical
  integral). One draw of 300 points scatters around it by ~3 % (s.d. of the sample mean, printed),
  so the tool error is also given against the exact great-circle nearest-neighbour distances of the
  same points, and of the mesh vertices they snap to (where both tools put them; the polyhedral mesh
  lies within 0.03 % of the sphere there): the 0.5 % target is judged on that last one.
- Ripley's L. Under complete spatial randomness the expected raw K(r) on a sphere is the geodesic
  ball area 2πR²(1 - cos(r/R)), i.e. L_closed(r) = sqrt(2R²(1 - cos(r/R))). Both tools normalise K
  by the real ball area (L = r under CSR on any surface; both write L - r), so each
  tool's L is mapped to the sphere convention, L_sphere(r) = L(r) / r * L_closed(r), and we report
  the mean over the 50 bins of |L_sphere(r) - L_closed(r)| / L_closed(r) (= mean |L/r - 1|): the
  average relative departure from CSR the estimator reports on CSR data, evaluated at the radius
  each tool labels its bin with (theirs: left bin edge). The same points feed both tools, so
  sampling noise is shared; a larger value means binning or area bias. For ours, the number of bins
  whose closed form lies inside the 20-simulation envelope is printed as well.

    python benchmarks/bench_vs_membrain.py --quick               # ours only, small inputs, < 60 s
    python benchmarks/bench_vs_membrain.py --ours-only           # full-size inputs, ours only
    python benchmarks/bench_vs_membrain.py --work /tmp/bvm       # both tools, no TTA
    python benchmarks/bench_vs_membrain.py --work /tmp/bvm --tta # also 8-flip TTA (slow on their side)
    python benchmarks/bench_vs_membrain.py --ours-only --big     # also ours on 200 x 512 x 512
    python benchmarks/bench_vs_membrain.py --work /tmp/bvm --repeat 3  # median of 3 segmentation runs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

VENV_RECIPE = (
    "python -m venv /tmp/msvenv && /tmp/msvenv/bin/pip install torch==2.13.0 membrain-seg membrain-pick "
    "membrain-stats click"
)

THEIRS = textwrap.dedent(
    """
    import json, os, sys, time
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    import torch
    torch.set_num_threads(threads)
    mode, result_path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    result = {}
    if mode == "ckpt":
        import pytorch_lightning as pl
        from membrain_seg.segmentation.networks.unet import SemanticSegmentationUnet
        torch.manual_seed(0)
        model = SemanticSegmentationUnet()
        result["parameters"] = sum(p.numel() for p in model.parameters())
        torch.save({"state_dict": model.state_dict(), "pytorch-lightning_version": pl.__version__,
                    "hyper_parameters": {}}, args[0])
    elif mode == "seg":
        from membrain_seg.segmentation.segment import segment
        tomo, ckpt, out, tta = args[0], args[1], args[2], args[3] == "1"
        t = time.perf_counter()
        result["file"] = str(segment(tomo, ckpt, out, test_time_augmentation=tta))
        result["s"] = time.perf_counter() - t
    elif mode == "nn":
        import starfile
        from membrain_stats.geodesic_distances import geodesic_nearest_neighbors_folder
        folder, out = args
        t = time.perf_counter()
        geodesic_nearest_neighbors_folder(folder, out, num_neighbors=1, start_classes=[1], target_classes=[1],
                                          method="fast")
        result["s"] = time.perf_counter() - t
        files = sorted(f for f in os.listdir(out) if f.endswith("_nearest_neighbors.star"))
        result["nn_ang"] = [v for f in files for v in starfile.read(os.path.join(out, f))["nn0_distance"].tolist()]
    elif mode == "ripley":
        import starfile
        from membrain_stats.geodesic_distances import geodesic_ripleys_folder
        folder, out, bin_ang = args[0], args[1], float(args[2])
        t = time.perf_counter()
        geodesic_ripleys_folder(folder, out, start_classes=[1], target_classes=[1], ripley_type="L",
                                bin_size=bin_ang, method="fast")
        result["s"] = time.perf_counter() - t
        table = starfile.read(os.path.join(out, "ripleysL.star"))
        result["r_ang"], result["L_minus_r_ang"] = table["x_values"].tolist(), table["y_values"].tolist()
    json.dump(result, open(result_path, "w"))
    """
)
"""Driver run with membrain's python: checkpoint, segmentation, neighbours, Ripley (one mode per process)."""

OURS = textwrap.dedent(
    """
    import json, sys, time
    from cryomem.stats import StatsConfig, load_inputs, nearest_neighbours, ripley
    mode, result_path, folder, star = sys.argv[1:5]
    result = {}
    t = time.perf_counter()
    membranes = load_inputs([folder], [star], StatsConfig()).membranes
    if mode == "nn":
        nn = nearest_neighbours(membranes, k=1, start_classes=[1], target_classes=[1])
        result["s"] = time.perf_counter() - t
        result["nn_nm"] = nn.per_particle["nn1_distance_nm"].tolist()
    else:
        bin_nm, n_bins, n_sim = float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
        rip = ripley(membranes, bin_size_nm=bin_nm, max_radius_nm=bin_nm * n_bins, start_classes=[1],
                     target_classes=[1], n_simulations=n_sim, seed=0, workers=int(sys.argv[8]))
        result["s"] = time.perf_counter() - t
        table = rip.table
        result["r_nm"], result["L_nm"] = table["r_nm"].tolist(), table["L_nm"].tolist()  # L - r
        if n_sim:
            result["L_low"], result["L_high"] = table["L_nm_csr_low"].tolist(), table["L_nm_csr_high"].tolist()
    json.dump(result, open(result_path, "w"))
    """
)
"""Our statistics child: inputs loaded and snapped, then one analysis, timed from before the load."""

LAUNCHER = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    start = time.perf_counter()
    process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    print(json.dumps({"s": seconds, "mib": usage.ru_maxrss / 1024, "rc": os.waitstatus_to_exitcode(status),
                      "stderr": stderr.decode(errors="replace")[-3000:]}))
    """
)
"""Runs one command from a small fresh process: its wall seconds and peak resident size (``wait4``)."""


# ---------------------------------------------------------------------------------------------- helpers


def run_timed(command: list, threads: int, label: str) -> dict:
    """Wall seconds and peak resident MiB of one command line; raises with its stderr if it fails."""
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[key] = str(threads)
    env["COLUMNS"] = "200"
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *[str(c) for c in command]], env=env, capture_output=True, text=True
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{label}: launcher failed: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["rc"] != 0:
        raise RuntimeError(f"{label} failed (exit {figures['rc']}):\n{figures['stderr']}")
    return figures


def median_run(command: list, threads: int, label: str, repeat: int, out: Path) -> dict:
    """:func:`run_timed` ``repeat`` times into a fresh ``out``: the median seconds and peak MiB (the machine's
    noise is ~15 %)."""
    runs = []
    for _ in range(max(1, repeat)):
        fresh(out)
        runs.append(run_timed(command, threads, label))
    return {"s": float(np.median([r["s"] for r in runs])), "mib": float(np.median([r["mib"] for r in runs])),
            "runs_s": [r["s"] for r in runs]}  # fmt: skip


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def count_obj_vertices(folder: Path) -> tuple[int, int]:
    """Vertices over all OBJ files under ``folder``, and the number of files."""
    files = sorted(folder.rglob("*.obj"))
    total = 0
    for path in files:
        with open(path) as handle:
            total += sum(1 for line in handle if line.startswith("v "))
    return total, len(files)


def dice(seg: np.ndarray, truth: np.ndarray) -> float:
    inter = np.count_nonzero(seg & truth)
    return 2.0 * inter / max(1, np.count_nonzero(seg) + np.count_nonzero(truth))


# ----------------------------------------------------------------------------------------------- inputs


def make_tomogram(folder: Path, shape: tuple[int, int, int], quick: bool) -> dict:
    """Simulated tomogram with 3 vesicles + 2 nearly planar sheets (first seed that gives them), and labels."""
    from cryomem.io import write_mrc
    from cryomem.simulate import SimulationConfig, simulate_tomogram

    info_path = folder / "tomogram.json"
    if info_path.is_file() and (folder / "tomo.mrc").is_file():
        info = json.loads(info_path.read_text())
        if info.get("shape") == list(shape):
            return info
    radius = (12.0, 18.0) if quick else (25.0, 45.0)
    for seed in range(50):
        config = SimulationConfig.model_validate(
            {
                "shape_zyx": shape,
                "voxel_size_ang": 10.0,
                "seed": seed,
                "membranes": {
                    "kinds": {"sphere": 3.0, "sheet": 2.0},
                    "max_count": 5,
                    "occupancy": 0.3,
                    "radius_nm": radius,
                    "sheet_radius_nm": (5000.0, 20000.0),
                },
                "cytosol": {"occupancy": 0.01, "microtubules": 0, "actin_filaments": 0},
            }
        )
        sim = simulate_tomogram(config)
        kinds = sorted(m.kind for m in sim.phantom.membranes)
        if kinds == ["sheet", "sheet", "sphere", "sphere", "sphere"]:
            break
    write_mrc(folder / "tomo.mrc", sim.tomogram_zyx.astype(np.float32), voxel_size_ang=10.0)
    write_mrc(folder / "truth.mrc", (sim.phantom.membrane_ids_zyx > 0).astype(np.uint8), voxel_size_ang=10.0)
    info = {"shape": list(shape), "seed": seed, "kinds": kinds}
    info_path.write_text(json.dumps(info))
    return info


def make_big_tomogram(tomo: Path, out: Path, shape: tuple[int, int, int]) -> None:
    """The tomogram mirror-tiled (no seams) and cropped to ``shape``: a large input of realistic content."""
    from cryomem.io import read_mrc, write_mrc

    if out.is_file():
        return
    data = read_mrc(tomo).data_zyx
    reps = [int(np.ceil(want / have)) for want, have in zip(shape, data.shape)]
    tiled = np.pad(data, [(0, (r - 1) * n) for r, n in zip(reps, data.shape)], mode="symmetric")
    cropped = np.ascontiguousarray(tiled[: shape[0], : shape[1], : shape[2]], dtype=np.float32)
    write_mrc(out, cropped, voxel_size_ang=10.0)


def make_sphere(folder: Path, subdivisions: int, n_particles: int, radius_ang: float, seed: int) -> np.ndarray:
    """Icosphere OBJ (Å) + particles uniform on the true sphere: per-membrane STAR (theirs), particles.star (ours)."""
    import pandas as pd
    import starfile
    import trimesh
    from scipy.spatial import cKDTree

    from cryomem.io import Mesh, normals_to_euler_zyz_deg, write_mesh, write_particles_star

    rng = np.random.default_rng(seed)
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius_ang)
    centre = np.array([1000.0, 1000.0, 1000.0])
    write_mesh(folder / "sphere_mb001.obj", Mesh(np.asarray(sphere.vertices) + centre, np.asarray(sphere.faces)))
    normals = rng.normal(size=(n_particles, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    xyz = centre + radius_ang * normals
    angles = normals_to_euler_zyz_deg(normals, rng.uniform(0, 360, n_particles))
    star = pd.DataFrame({"rlnCoordinateX": xyz[:, 0], "rlnCoordinateY": xyz[:, 1], "rlnCoordinateZ": xyz[:, 2]})
    star["rlnClassNumber"] = 1
    star["rlnAngleRot"], star["rlnAngleTilt"], star["rlnAnglePsi"] = angles.T
    starfile.write(star, folder / "sphere_mb001_clusters.star")
    ours = pd.DataFrame(
        {
            "tomo_name": "sphere",
            **{f"{a}_ang": xyz[:, j] for j, a in enumerate("xyz")},
            **{f"{a}_deg": angles[:, j] for j, a in enumerate(("rot", "tilt", "psi"))},
            "class_number": 1,
            "membrane_id": 1,
        }
    )
    write_particles_star(folder.parent / "particles.star", ours, voxel_size_ang=10.0, shape_zyx=(200, 200, 200))
    vertices = np.asarray(sphere.vertices)
    snapped = vertices[cKDTree(vertices).query(xyz - centre)[1]]
    return normals, snapped / np.linalg.norm(snapped, axis=1, keepdims=True)


# -------------------------------------------------------------------------------------------- closed forms


def nn1_expected_nm(radius_nm: float, n: int) -> float:
    """R ∫_0^π ((1 + cos θ)/2)^(n-1) dθ: mean geodesic nearest-neighbour distance of n uniform points."""
    theta = np.linspace(0.0, np.pi, 200_001)
    values = ((1.0 + np.cos(theta)) / 2.0) ** (n - 1)
    return float(radius_nm * np.sum((values[1:] + values[:-1]) / 2.0) * (theta[1] - theta[0]))


def nn1_exact_nm(normals: np.ndarray, radius_nm: float) -> np.ndarray:
    """Great-circle nearest-neighbour distance of each of the given points on the sphere."""
    cosines = np.clip(normals @ normals.T, -1.0, 1.0)
    np.fill_diagonal(cosines, -1.0)
    return radius_nm * np.arccos(cosines.max(axis=1))


def l_closed_nm(r_nm: np.ndarray, radius_nm: float) -> np.ndarray:
    """L(r) = sqrt(K/π) with K(r) = 2πR²(1 - cos(r/R)), the geodesic ball area on the sphere."""
    return np.sqrt(2.0 * radius_nm**2 * (1.0 - np.cos(np.asarray(r_nm) / radius_nm)))


def ripley_error(r_nm: np.ndarray, l_nm: np.ndarray, radius_nm: float) -> float:
    """Mean |L_sphere - L_closed| / L_closed over the bins, %, with L_sphere = L / r * L_closed (see module doc)."""
    r_nm, l_nm = np.asarray(r_nm, float), np.asarray(l_nm, float)
    keep = (r_nm > 0) & np.isfinite(l_nm)
    closed = l_closed_nm(r_nm[keep], radius_nm)
    sphere = l_nm[keep] / r_nm[keep] * closed
    return float(100.0 * np.mean(np.abs(sphere - closed) / closed))


# ------------------------------------------------------------------------------------------------- stages


def our_segment_parameters() -> int:
    from cryomem.segment import Segmenter

    return sum(p.numel() for p in Segmenter.load(None, "cpu").network.parameters())


def run_stages(args: argparse.Namespace, work: Path, sizes: dict, theirs: bool) -> dict:
    from cryomem.io import read_mrc

    py, threads, res = sys.executable, args.threads, {}
    tomo, truth = work / "inputs" / "tomo.mrc", read_mrc(work / "inputs" / "truth.mrc").data_zyx > 0
    stats_in, star = work / "inputs" / "sphere", work / "inputs" / "particles.star"
    mb_py = args.membrain_python
    driver = work / "membrain_driver.py"
    driver.write_text(THEIRS)
    ours_child = work / "cryomem_stats_child.py"
    ours_child.write_text(OURS)
    ckpt = work / "membrain_default_unet.ckpt"
    if theirs:
        result = work / "mb_ckpt.json"
        run_timed([mb_py, driver, "ckpt", result, ckpt], threads, "membrain-seg checkpoint")
        res["their_parameters"] = json.loads(result.read_text())["parameters"]
    res["our_parameters"] = our_segment_parameters()

    # segmentation
    for tta in (False, True) if args.tta else (False,):
        key = "seg_tta" if tta else "seg"
        out = fresh(work / f"ours_{key}")
        flag = "--tta" if tta else "--no-tta"
        res[f"ours_{key}"] = median_run(
            [py, "-m", "cryomem", "segment", "predict", tomo, "--out", out, flag, "--device", "cpu"],
            threads,
            "cryomem segment",
            args.repeat,
            out,
        )
        seg = read_mrc(out / "tomo_seg.mrc").data_zyx > 0
        res[f"ours_{key}"]["dice"] = dice(seg, truth)
        runs = ", ".join(f"{v:.1f}" for v in res[f"ours_{key}"]["runs_s"])
        print(f"  ours {key}: {res[f'ours_{key}']['s']:.1f} s (runs: {runs} s)", flush=True)
        if theirs:
            out = fresh(work / f"theirs_{key}")
            result = work / f"mb_{key}.json"
            command = [mb_py, driver, "seg", result, tomo, ckpt, out, int(tta)]
            res[f"theirs_{key}"] = median_run(command, threads, "membrain-seg segment", args.repeat, out)
            their_file = json.loads(result.read_text())["file"]
            res[f"theirs_{key}"]["dice"] = dice(read_mrc(their_file).data_zyx > 0, truth)
            runs = ", ".join(f"{v:.1f}" for v in res[f"theirs_{key}"]["runs_s"])
            print(f"  theirs {key}: {res[f'theirs_{key}']['s']:.1f} s (runs: {runs} s)", flush=True)

    if args.big:
        big = work / "inputs" / "big.mrc"
        make_big_tomogram(tomo, big, (200, 512, 512))
        out = fresh(work / "ours_big")
        command = [py, "-m", "cryomem", "segment", "predict", big, "--out", out, "--no-tta", "--device", "cpu"]
        res["ours_big"] = run_timed(command, threads, "cryomem segment (big)")
        print(f"  ours big: {res['ours_big']['s']:.1f} s, {res['ours_big']['mib']:.0f} MiB", flush=True)

    # surfaces, both from our (no-TTA) segmentation
    our_seg = work / "ours_seg" / "tomo_seg.mrc"
    out = fresh(work / "ours_surface")
    res["ours_surface"] = run_timed(
        [py, "-m", "cryomem", "surface", our_seg, "--tomogram", tomo, "--out", out], threads, "cryomem surface"
    )
    res["ours_surface"]["vertices"], res["ours_surface"]["meshes"] = count_obj_vertices(out)
    print(f"  ours surface: {res['ours_surface']['s']:.1f} s", flush=True)
    if theirs:
        seg_folder = fresh(work / "theirs_surface_in")
        shutil.copy(our_seg, seg_folder / "tomo_seg.mrc")
        out = fresh(work / "theirs_surface")
        pick = Path(mb_py).parent / "membrain_pick"
        command = [pick, "convert_mb_folder", "--mb-folder", seg_folder, "--tomo-path", tomo, "--out-folder", out]
        res["theirs_surface"] = run_timed([*command, "--no-only-largest-component"], threads, "membrain_pick")
        res["theirs_surface"]["vertices"], res["theirs_surface"]["meshes"] = count_obj_vertices(out)
        print(f"  theirs surface: {res['theirs_surface']['s']:.1f} s", flush=True)

    # statistics on the icosphere
    bin_nm, n_bins = args.bin_nm, args.bins
    ripley_runs = (("ripley", [bin_nm, n_bins, 0, threads]), ("ripley_env", [bin_nm, n_bins, sizes["env"], threads]))
    for key, extra in (("nn", []), *ripley_runs):
        result = work / f"ours_{key}.json"
        mode = "nn" if key == "nn" else "ripley"
        launch = run_timed([py, ours_child, mode, result, stats_in, star, *extra], threads, f"cryomem {key}")
        res[f"ours_{key}"] = {**json.loads(result.read_text()), "wall_s": launch["s"], "mib": launch["mib"]}
        print(f"  ours {key}: {res[f'ours_{key}']['s']:.2f} s", flush=True)
    if theirs:
        for key, extra in (("nn", []), ("ripley", [bin_nm * 10.0])):
            result = work / f"mb_{key}.json"
            out = fresh(work / f"theirs_{key}")
            launch = run_timed([mb_py, driver, key, result, stats_in, out, *extra], threads, f"membrain-stats {key}")
            res[f"theirs_{key}"] = {**json.loads(result.read_text()), "wall_s": launch["s"], "mib": launch["mib"]}
            print(f"  theirs {key}: {res[f'theirs_{key}']['s']:.2f} s", flush=True)
    return res


# ------------------------------------------------------------------------------------------------- report


def report(res: dict, sizes: dict, args: argparse.Namespace, theirs: bool) -> None:
    mvox = float(np.prod(sizes["shape"])) / 1e6
    rows = []

    def cell(entry: dict | None, fmt: str) -> str:
        return fmt.format(**entry) if entry else "-"

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.1f}x" if a and b else "-"

    def get(key: str) -> dict | None:
        return res.get(key)

    for key, label in (("seg", "segmentation, no TTA"), ("seg_tta", "segmentation, 8-flip TTA")):
        if f"ours_{key}" not in res:
            continue
        o, t = get(f"ours_{key}"), get(f"theirs_{key}")
        fmt = "{s:.1f} s ({mib:.0f} MiB)"
        rows.append((label, cell(t, fmt), cell(o, fmt), ratio(t and t["s"], o["s"])))
        rows.append(
            (
                f"{label}, s per megavoxel",
                f"{t['s'] / mvox:.2f} s/MVox" if t else "-",
                f"{o['s'] / mvox:.2f} s/MVox",
                ratio(t and t["s"] / mvox, o["s"] / mvox),
            )
        )
    if "ours_big" in res:
        o, big_mvox = res["ours_big"], 200 * 512 * 512 / 1e6
        rows.append(
            ("segmentation, no TTA, 200 x 512 x 512", "not run", f"{o['s']:.1f} s ({o['mib']:.0f} MiB), "
             f"{o['s'] / big_mvox:.2f} s/MVox", "")
        )  # fmt: skip
    their_parameters = f"{res['their_parameters']:,}" if theirs else "-"
    rows.append(("segmentation network parameters", their_parameters, f"{res['our_parameters']:,}", ""))
    o, t = get("ours_surface"), get("theirs_surface")
    fmt = "{s:.1f} s, {vertices:,} vertices in {meshes} meshes"
    rows.append(("surfaces (all membranes)", cell(t, fmt), cell(o, fmt), ratio(t and t["s"], o["s"])))
    per = {k: v and v["s"] / max(v["vertices"], 1) * 1e4 for k, v in (("o", o), ("t", t))}
    rows.append(
        (
            "surfaces, s per 10k vertices",
            f"{per['t']:.2f} s" if t else "-",
            f"{per['o']:.2f} s",
            ratio(per["t"], per["o"]),
        )
    )
    o, t = get("ours_nn"), get("theirs_nn")
    rows.append(("geodesic NN, k=1", cell(t, "{s:.2f} s"), cell(o, "{s:.2f} s"), ratio(t and t["s"], o["s"])))
    o, t = get("ours_ripley"), get("theirs_ripley")
    label = f"Ripley L, {args.bins} bins of {args.bin_nm:g} nm"
    rows.append((label, cell(t, "{s:.2f} s"), cell(o, "{s:.2f} s"), ratio(t and t["s"], o["s"])))
    oe = get("ours_ripley_env")
    rows.append(
        (
            f"{label}, ours + {sizes['env']} CSR envelopes",
            cell(t, "{s:.2f} s (no envelopes)"),
            cell(oe, "{s:.2f} s"),
            ratio(t and t["s"], oe["s"]),
        )
    )
    print(
        f"\ntomogram {sizes['shape']} at 10 Å ({mvox:.1f} MVox), sphere R = {sizes['radius_ang']:g} Å with "
        f"{sizes['vertices']:,} vertices and {sizes['particles']} particles; {args.threads} threads"
    )
    print("\n| stage | membrain v2 | cryomem | ratio |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")

    # accuracy
    radius_nm, n = sizes["radius_ang"] / 10.0, sizes["particles"]
    expected = nn1_expected_nm(radius_nm, n)
    exact = nn1_exact_nm(sizes["normals"], radius_nm)
    snapped = nn1_exact_nm(sizes["snapped_normals"], radius_nm)  # the problem both tools solve
    spread = 100.0 * exact.std() / np.sqrt(n) / expected
    print("\naccuracy")
    for key in ("seg", "seg_tta"):
        if f"ours_{key}" in res:
            their = f"{res[f'theirs_{key}']['dice']:.3f} (untrained)" if f"theirs_{key}" in res else "-"
            ours = res[f"ours_{key}"]["dice"]
            print(f"  segmentation Dice vs simulator labels ({key}): ours {ours:.3f}, theirs {their}")
    print(
        f"  NN1 mean, closed form (expected, n={n}) {expected:.3f} nm (s.d. of a sample mean ±{spread:.1f} %); "
        f"exact great-circle mean of these points {exact.mean():.3f} nm; of their nearest vertices (where both "
        f"tools put them) {snapped.mean():.3f} nm"
    )
    nn_errors = {}
    for who, key, scale in (("ours", "ours_nn", 1.0), ("theirs", "theirs_nn", 0.1)):
        if key not in res:
            continue
        values = np.asarray(res[key]["nn_nm" if who == "ours" else "nn_ang"], float) * scale
        mean = float(np.nanmean(values))
        nn_errors[who] = 100.0 * (mean / snapped.mean() - 1.0)
        print(
            f"  NN1 mean {who}: {mean:.3f} nm, {100.0 * (mean / expected - 1.0):+.2f} % vs expected, "
            f"{100.0 * (mean / exact.mean() - 1.0):+.2f} % vs exact great-circle of the points, "
            f"{nn_errors[who]:+.2f} % vs that of their vertices ({np.count_nonzero(np.isfinite(values))} particles)"
        )
    rip_errors = {}
    o = res["ours_ripley_env"]
    r = np.asarray(o["r_nm"], float)
    rip_errors["ours"] = ripley_error(r, r + np.asarray(o["L_nm"], float), radius_nm)
    # both tools' L is area-normalised (L - r = 0 under CSR), so the closed form is L - r = 0 in their convention
    inside = np.count_nonzero((np.asarray(o["L_low"]) <= 0.0) & (0.0 <= np.asarray(o["L_high"])))
    print(
        f"  Ripley L ours: mean |L_sphere - L_closed| / L_closed = {rip_errors['ours']:.2f} % over {len(r)} bins; "
        f"closed form inside the {sizes['env']}-simulation envelope in {inside}/{len(r)} bins"
    )
    if "theirs_ripley" in res:
        t = res["theirs_ripley"]
        r_t = np.asarray(t["r_ang"], float)[: args.bins] / 10.0
        l_t = r_t + np.asarray(t["L_minus_r_ang"], float)[: args.bins] / 10.0
        rip_errors["theirs"] = ripley_error(r_t, l_t, radius_nm)
        print(
            f"  Ripley L theirs: mean |L_sphere - L_closed| / L_closed = {rip_errors['theirs']:.2f} % over the first "
            f"{len(r_t)} of {len(t['r_ang'])} bins (r = left bin edges, as they label them)"
        )

    # targets
    print("\ntargets")

    def verdict(name: str, value: float | None, ok: bool | None) -> None:
        state = "not measured (membrain side not run)" if ok is None else ("met" if ok else "not met")
        print(f"  {name}: {state}" + (f" ({value})" if value is not None else ""))

    nn_ratio = res["theirs_nn"]["s"] / res["ours_nn"]["s"] if theirs else None
    verdict("NN >= 10x faster", nn_ratio and f"{nn_ratio:.1f}x", None if nn_ratio is None else nn_ratio >= 10)
    rip_ratio = res["theirs_ripley"]["s"] / res["ours_ripley_env"]["s"] if theirs else None
    verdict(
        f"Ripley L with {sizes['env']} envelopes >= 10x faster than theirs without",
        rip_ratio and f"{rip_ratio:.1f}x",
        None if rip_ratio is None else rip_ratio >= 10,
    )
    err = nn_errors["ours"]
    verdict(
        "NN1 mean within 0.5 % of the closed form (ours, vs exact great-circle of the same points' vertices)",
        f"{err:+.2f} %",
        abs(err) <= 0.5,
    )
    for key, label in (("seg", "no TTA"), ("seg_tta", "8-flip TTA")):
        if f"ours_{key}" in res:
            seg_ratio = res[f"theirs_{key}"]["s"] / res[f"ours_{key}"]["s"] if theirs else None
            verdict(
                f"segmentation >= 10x cheaper per voxel ({label})",
                seg_ratio and f"{seg_ratio:.1f}x",
                None if seg_ratio is None else seg_ratio >= 10,
            )


# --------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="ours only, small inputs (< 60 s on 2 cores)")
    parser.add_argument("--ours-only", action="store_true", help="full-size inputs, ours only")
    parser.add_argument("--tta", action="store_true", help="also time segmentation with 8-flip TTA (slow)")
    parser.add_argument("--big", action="store_true", help="also our segmentation of a 200 x 512 x 512 tomogram")
    parser.add_argument("--repeat", type=int, default=1, help="segmentation runs per tool; the median is reported")
    parser.add_argument("--threads", type=int, default=2, help="threads for every child (default 2)")
    parser.add_argument("--membrain-python", default="/tmp/msvenv/bin/python", help="python of the MemBrain venv")
    parser.add_argument("--work", default=None, help="work folder, keeps the inputs between runs (default: temp)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the particles on the sphere")
    parser.add_argument("--bin-nm", type=float, default=2.0, help="Ripley bin width, nm (default 2)")
    parser.add_argument("--bins", type=int, default=50, help="Ripley bins (max radius = bins x bin width)")
    args = parser.parse_args()
    theirs = not (args.quick or args.ours_only)
    if theirs and not Path(args.membrain_python).is_file():
        sys.exit(f"{args.membrain_python} does not exist; make the MemBrain venv with: {VENV_RECIPE}")
    if args.quick:
        sizes = {"shape": (48, 96, 96), "subdivisions": 4, "particles": 60, "env": 5}
    else:
        sizes = {"shape": (100, 200, 200), "subdivisions": 6, "particles": 300, "env": 20}
    sizes["radius_ang"] = 500.0
    sizes["vertices"] = 10 * 4 ** sizes["subdivisions"] + 2
    temp = None
    if args.work is None:
        temp = tempfile.TemporaryDirectory(prefix="bench_vs_membrain_")
        work = Path(temp.name)
    else:
        work = Path(args.work)
    try:
        inputs = work / "inputs"
        (inputs / "sphere").mkdir(parents=True, exist_ok=True)
        print(f"inputs in {inputs}", flush=True)
        info = make_tomogram(inputs, sizes["shape"], args.quick)
        print(f"  tomogram {sizes['shape']}: simulator seed {info['seed']}, membranes {info['kinds']}", flush=True)
        for stale in (inputs / "sphere").iterdir():
            stale.unlink()
        sizes["normals"], sizes["snapped_normals"] = make_sphere(
            inputs / "sphere", sizes["subdivisions"], sizes["particles"], sizes["radius_ang"], args.seed
        )
        res = run_stages(args, work, sizes, theirs)
        report(res, sizes, args, theirs)
    finally:
        if temp is not None:
            temp.cleanup()


if __name__ == "__main__":
    main()
