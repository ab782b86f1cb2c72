"""Where the picking F1 is lost: recall of simulated proteins broken down, and the generalisation gap (issue 4).

Reads ``bench_pick.py``'s data folder, predicts every membrane of the scored tomograms with one or
more picking models (with TTA; several models are averaged), picks with the default mean-shift
settings and prints

- pooled precision / recall / F1 at 6.3 nm (the paper's definition);
- recall per protein class (the simulator's class names), per distance from the protein centre to
  the nearest mesh vertex (a protein far from the mesh has a segmentation problem, not a picking
  one), per |normal z| at that vertex (membranes seen face-on suffer most from the missing wedge), and
  by whether the protein's mesh holds one simulated membrane or several merged by the segmentation;
- for missed proteins, the smallest predicted distance within 30 Å of them: near the model's
  maximum means the network did not see the protein at all, small means mean shift lost it;
- F1 of the first model on its own training membranes and on the other membranes of its training
  tomogram: a large gap means the model learns its training membranes, not proteins.

    python benchmarks/bench_pick.py --work W --epochs 60 --sizes 5 \\
        --train-setting learning_rate=0.003 --train-setting augment=false   # trains the 5-membrane model
    python benchmarks/diagnose_pick_misses.py --work W --model W/z96y256x256_snr0.5/model_..._5mb_.../model.pt
    python benchmarks/diagnose_pick_misses.py --work W --segmentation truth --model ...   # surfaces from exact labels
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from bench_pick import data_folder, prepare
from scipy.spatial import cKDTree

from cryomem.geometry import DEFAULT_FEATURE_LOWPASS_ANG

MATCH_RADIUS_ANG = 63.0
NEIGHBOURHOOD_ANG = 30.0


def predict(models: list, paths: list[Path], cache: Path) -> list[tuple]:
    """(surface, tomogram name, distances averaged over the models) per membrane file."""
    import torch

    from cryomem.io import read_membrane_h5
    from cryomem.pick import predict_distances_ang, tomogram_name

    out = []
    for path in paths:
        surface = read_membrane_h5(path)
        with torch.no_grad():
            distances = [predict_distances_ang(m, card, surface, cache_dir=cache) for m, card in models]
        out.append((surface, tomogram_name(surface, path), np.mean(distances, axis=0)))
    return out


def pick_all(predicted: list[tuple], max_distance_ang: float) -> pd.DataFrame:
    """Picks of every membrane with the default mean-shift settings, one table."""
    from cryomem.pick import pick_surface

    tables = [pick_surface(s, d, max_distance_ang=max_distance_ang, tomo_name=n) for s, n, d in predicted]
    return pd.concat(tables, ignore_index=True)


def protein_table(
    predicted: list[tuple], picked: pd.DataFrame, truth: pd.DataFrame, max_distance_ang: float
) -> pd.DataFrame:
    """One row per true protein within ``max_distance_ang`` of a mesh: nearest pick, context at its nearest mesh."""
    rows = []
    for name, proteins in truth.groupby("tomo_name"):
        members = [(s, d) for s, n, d in predicted if n == name]
        if not members:
            continue
        centres = proteins[["x_ang", "y_ang", "z_ang"]].to_numpy()
        trees = [cKDTree(s.vertices_xyz_ang) for s, _ in members]
        queries = [tree.query(centres) for tree in trees]
        to_mesh = np.stack([q[0] for q in queries])  # (membranes, proteins), Å
        owner = np.argmin(to_mesh, axis=0)
        picks = picked.loc[picked.tomo_name == name, ["x_ang", "y_ang", "z_ang"]].to_numpy()
        to_pick = cKDTree(picks).query(centres)[0] if len(picks) else np.full(len(centres), np.inf)
        for k, ((surface, distances), tree, (_, nearest)) in enumerate(zip(members, trees, queries)):
            on = (owner == k) & (to_mesh[k] < max_distance_ang)
            if not on.any():
                continue
            around = tree.query_ball_point(surface.vertices_xyz_ang[nearest[on]], NEIGHBOURHOOD_ANG)
            rows.append(
                proteins[on].assign(
                    to_pick_ang=to_pick[on],
                    to_mesh_ang=to_mesh[k, on],
                    mesh=f"{name}/{k}",
                    normal_z=np.abs(surface.normals_xyz[nearest[on], 2]),
                    predicted_min_ang=[float(distances[ids].min()) for ids in around],
                )
            )
    table = pd.concat(rows, ignore_index=True)
    table["found"] = table.to_pick_ang <= MATCH_RADIUS_ANG
    return table


def pooled(predicted: list[tuple], picked: pd.DataFrame, truth: pd.DataFrame, max_distance_ang: float) -> pd.Series:
    """Paper P / R / F1 against the proteins within ``max_distance_ang`` of one of these meshes."""
    from cryomem.pick import evaluate_picks

    vertices = np.concatenate([s.vertices_xyz_ang for s, _, _ in predicted])
    near = cKDTree(vertices).query(truth[["x_ang", "y_ang", "z_ang"]].to_numpy())[0] < max_distance_ang
    row = evaluate_picks(picked, truth[near], radius_nm=MATCH_RADIUS_ANG / 10).iloc[-1].copy()
    row["picks"], row["proteins"] = len(picked), int(near.sum())
    return row


def print_recall(table: pd.DataFrame, by: pd.Series, title: str) -> None:
    grouped = table.groupby(by, observed=True).found.agg(["mean", "count"])
    print(f"\nrecall by {title}:")
    for key, row in grouped.iterrows():
        print(f"  {str(key):>16} {row['mean']:6.3f}  ({int(row['count'])} proteins)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("bench_pick_work"), help="bench_pick.py's data folder")
    parser.add_argument("--model", type=Path, action="append", required=True, help="picking model (repeat: average)")
    parser.add_argument("--tomograms", default="1,2,3", help="scored tomogram indices (bench_pick scores 1-3)")
    parser.add_argument("--shape", default="96,256,256", help="tomogram shape z,y,x (voxels of 10 Å)")
    parser.add_argument("--snr", type=float, default=0.5)
    parser.add_argument(
        "--segmentation",
        choices=("model", "truth"),
        default="model",
        help="surfaces from the default segmentation model or the simulator's membrane labels",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    import torch

    from cryomem.io import read_particles_star
    from cryomem.pick import load_pick_model

    torch.set_num_threads(args.threads)
    shape = tuple(int(v) for v in args.shape.split(","))
    work = data_folder(args.work, shape, args.snr)
    cache = work / "operator_cache"
    models = [load_pick_model(m) for m in args.model]
    max_distance = float(models[0][1]["max_distance_ang"])
    indices = [int(v) for v in args.tomograms.split(",")]
    data = [prepare(work, i, shape, args.snr, args.segmentation, DEFAULT_FEATURE_LOWPASS_ANG) for i in indices]
    truth = pd.concat([read_particles_star(t) for _, _, t in data], ignore_index=True)
    predicted = predict(models, [p for _, folder, _ in data for p in sorted(folder.glob("*.h5"))], cache)

    picked = pick_all(predicted, max_distance)
    row = pooled(predicted, picked, truth, max_distance)
    print(
        f"{len(models)} model(s), tomograms {args.tomograms}: {int(row.picks)} picks, {int(row.proteins)} proteins "
        f"on membranes; P {row.precision:.3f} R {row.recall:.3f} F1 {row.f1:.3f}"
    )
    table = protein_table(predicted, picked, truth, max_distance)
    classes = json.loads((work / data[0][0] / f"{data[0][0]}_ground_truth.json").read_text())
    names = {c["class_number"]: c["name"] for c in classes["membrane_protein_classes"]}
    print_recall(table, table.class_number.map(names), "protein class")
    print_recall(table, pd.cut(table.to_mesh_ang, [0, 20, 40, 60, max_distance]), "protein centre to mesh, Å")
    print_recall(table, pd.cut(table.normal_z, [0, 0.3, 0.6, 0.8, 0.95, 1.0]), "|normal z| at the protein")
    membranes_per_mesh = table.groupby("mesh").membrane_id.transform("nunique")
    print_recall(
        table, membranes_per_mesh.map(lambda n: "own mesh" if n == 1 else "merged mesh"), "simulated membranes per mesh"
    )
    missed, found = table[~table.found], table[table.found]
    quantiles = [10, 25, 50, 75, 90]
    print(f"\nsmallest predicted distance within {NEIGHBOURHOOD_ANG:g} Å, quantiles {quantiles} %, Å:")
    print(f"  missed ({len(missed)}): {np.percentile(missed.predicted_min_ang, quantiles).round(0)}")
    print(f"  found  ({len(found)}): {np.percentile(found.predicted_min_ang, quantiles).round(0)}")

    card = models[0][1]
    trained = [Path(p) for p in card.training.membranes]
    home = trained[0].parent
    others = sorted(set(home.glob("*.h5")) - set(trained))
    home_truth = read_particles_star(home.parent / f"{home.parent.name}_membrane_proteins.star")
    print(f"\nfirst model on its training tomogram {home.parent.name}:")
    for label, paths in (("training membranes", trained), ("other membranes", others)):
        if paths:
            own = predict(models[:1], paths, cache)
            row = pooled(own, pick_all(own, max_distance), home_truth, max_distance)
            print(f"  {label:>18} ({len(paths)}): {int(row.proteins)} proteins, F1 {row.f1:.3f}")


if __name__ == "__main__":
    main()
