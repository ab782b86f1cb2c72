"""Speed of `cryomem morph` on the membranes of a 200 x 512 x 512 tomogram (issue 21: <= 2 min on 2 cores).

Simulates a tomogram of ``--shape`` (default 200,512,512 at 10 Å, SNR 0.5, membrane proteins on the
membranes; seed 21001), meshes the simulator's membrane labels with `cryomem surface` (both faces of
every membrane, density samples), then times the whole `cryomem morph` command line on them, with the
tomogram (bilayer thickness) and the simulated membrane proteins (patches against the null), in its
own process (start-up included). Prints vertices, wall time and peak resident size, and the pooled
medians against the simulator's truth where it has one (bilayer thickness).

    python benchmarks/bench_morph_speed.py [--shape 200,512,512] [--work DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryomem.simulate import SimulationConfig, simulate_tomogram
from cryomem.simulate._write import write_simulated_tomogram


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="200,512,512")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2, help="OMP threads of the morph command")
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_morph_"))
    work.mkdir(parents=True, exist_ok=True)
    sim_dir = work / "sim"
    started = time.perf_counter()
    if not (sim_dir / "tomo.mrc").is_file():
        config = SimulationConfig.model_validate({"shape_zyx": list(shape), "seed": 21001, "voxel_size_ang": 10.0,
                                                  "microscope": {"snr": 0.5}})  # fmt: skip
        sim = simulate_tomogram(config)
        sim_dir.mkdir(parents=True, exist_ok=True)
        write_simulated_tomogram(sim, sim_dir, "tomo")
        truth = sorted({round(m.bilayer.thickness_ang / 10, 3) for m in sim.phantom.membranes})
        (work / "truth.json").write_text(json.dumps({"bilayer_thickness_nm": truth}))
        print(f"simulated {shape} in {time.perf_counter() - started:.0f} s", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    cli = str(Path(sys.executable).parent / "cryomem")
    if not (work / "membranes").is_dir():
        subprocess.run([cli, "surface", sim_dir / "tomo_membranes.mrc", "--tomogram", sim_dir / "tomo.mrc",
                        "--out", work / "membranes"], check=True, env=env, capture_output=True)  # fmt: skip
    out = work / "morph"
    command = [cli, "morph", work / "membranes", "--tomogram", sim_dir / "tomo.mrc", "-p",
               sim_dir / "tomo_membrane_proteins.star", "--out", out]  # fmt: skip
    launcher = (
        "import json, os, subprocess, sys, time; t = time.perf_counter(); "
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE); "
        "_, s, u = os.wait4(p.pid, 0); "
        "print(json.dumps({'s': time.perf_counter() - t, 'mib': u.ru_maxrss / 1024, 'rc': s, "
        "'err': p.stderr.read().decode()[-1500:]}))"
    )
    result = subprocess.run([sys.executable, "-c", launcher, *map(str, command)], env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["rc"]:
        raise SystemExit(figures["err"])
    summary = json.loads((out / "morph_summary.json").read_text())
    from cryomem.io import read_membrane_h5

    vertices = sum(len(read_membrane_h5(p).vertices_xyz_ang) for p in (work / "membranes").glob("*.h5"))
    medians = summary["results"]["pooled_medians"]
    print(f"cryomem morph on {len(summary['membranes'])} membranes, {vertices} vertices, {args.threads} threads: "
          f"{figures['s']:.1f} s, peak {figures['mib']:.0f} MiB")  # fmt: skip
    truth = json.loads((work / "truth.json").read_text()) if (work / "truth.json").is_file() else {}
    print(f"  median bilayer thickness {medians.get('bilayer_thickness_nm')} nm "
          f"(simulated leaflet separations {truth.get('bilayer_thickness_nm')})")  # fmt: skip
    print(
        f"  median |curvature| {medians.get('curvedness_per_nm')} 1/nm, median spacing {medians.get('spacing_nm')} nm"
    )
    particles = summary["results"].get("particles", {})
    print(f"  particles on membranes {particles.get('on_membranes')}, off {particles.get('off_membranes')}")
    print(f"(work folder {work}; {time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
