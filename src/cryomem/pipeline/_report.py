"""``cryomem report RUN_DIR``: one self-contained HTML page of a run (images inline as base64 PNG).

Per tomogram: a slice with the membrane instances overlaid and the picked particles marked, the
membrane meshes coloured by the predicted distance to the nearest particle, the statistics plots
and a table per membrane; for the run: stage status, failures, pooled tables and plots, and the
ground-truth comparison when there is one (``cryomem demo``). A small inline script counts the
images that rendered and the tables, into ``#render-check`` (for headless-browser tests).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

import pandas as pd

from cryomem.io import atomic_write_path, stats_plot_name, stats_summary_name, stats_table_name
from cryomem.pipeline._figures import mesh_figure, slice_figure
from cryomem.pipeline._manifest import Manifest
from cryomem.pipeline._settings import STAGES
from cryomem.pipeline._stages import TomogramFolders

__all__ = ["write_report"]

_PLOTS = ("concentration", "neighbours", "ripley", "orientation", "edges")
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222;padding:0 1em}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em} th,td{border:1px solid #ccc;padding:.25em .6em}
th{background:#f3f3f3} td.num{text-align:right} .done{color:#17692d} .failed{color:#b00020;font-weight:bold}
.skipped,.note{color:#8a6d00} img{max-width:100%;margin:.3em .6em .3em 0;vertical-align:top}
.plots img{max-width:48%} .muted{color:#777;font-size:.85em} pre{white-space:pre-wrap}
"""
_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var tables = document.getElementsByTagName("table").length;
  var check = document.getElementById("render-check");
  check.setAttribute("data-images-total", images.length);
  check.setAttribute("data-images-loaded", loaded);
  check.setAttribute("data-tables", tables);
  check.textContent = "rendered: " + loaded + " of " + images.length + " images, " + tables + " tables";
});
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return _img(buffer.getvalue(), "figure")


def _img(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _table(frame: pd.DataFrame, *, max_rows: int = 200) -> str:
    if len(frame) > max_rows:
        frame = frame.head(max_rows)
    return frame.to_html(index=False, border=0, na_rep="–", float_format=lambda v: f"{v:.4g}", escape=True)


def _status_cell(record: dict | None) -> str:
    if not record:
        return "<td>–</td>"
    status = record.get("status", "?")
    title = html.escape(record.get("error") or "", quote=True)
    seconds = record.get("seconds")
    text = status + (f" ({seconds:.1f} s)" if isinstance(seconds, (int, float)) and status == "done" else "")
    return f'<td class="{html.escape(status)}" title="{title}">{html.escape(text)}</td>'


def _status_section(manifest: Manifest) -> str:
    header = "".join(f"<th>{s}</th>" for s in STAGES)
    rows, failures = [], []
    for name, entry in sorted(manifest.tomograms.items()):
        stages = entry.get("stages", {})
        cells = "".join(_status_cell(stages.get(s)) for s in STAGES)
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
        for stage in STAGES:
            record = stages.get(stage) or {}
            if record.get("status") == "failed":
                failures.append((name, stage, record.get("error") or ""))
    pooled = manifest.pooled or {}
    if pooled.get("status") == "failed":
        failures.append(("all tomograms", "pooled", pooled.get("error") or ""))
    out = [f"<h2>Stages</h2><table><tr><th>tomogram</th>{header}</tr>{''.join(rows)}</table>"]
    if failures:
        body = "".join(
            f"<tr><td>{html.escape(n)}</td><td>{s}</td><td>{html.escape(e)}</td></tr>" for n, s, e in failures
        )
        out.append(f"<h2>Failures</h2><table><tr><th>tomogram</th><th>stage</th><th>error</th></tr>{body}</table>")
    return "".join(out)


def _comparison_section(run_dir: Path) -> str:
    path = run_dir / "ground_truth_comparison.json"
    if not path.is_file():
        return ""
    data = json.loads(path.read_text())
    rows = []
    seg, picks, conc = data.get("segmentation"), data.get("picking"), data.get("concentration")
    if seg:
        rows += [("segmentation Dice", seg["dice"]), ("segmentation Surface-Dice", seg["surface_dice"])]
    if picks:
        radius = picks["radius_nm"]
        rows += [(f"picking precision at {radius} nm", picks["precision"]), (f"picking recall at {radius} nm",
                 picks["recall"]), (f"picking F1 at {radius} nm", picks["f1"]),
                 ("particles picked / true", f"{picks['n_predicted']} / {picks['n_ground_truth']}")]  # fmt: skip
    if conc:
        rows += [("concentration, predicted (per µm²)", conc["predicted_per_um2"]),
                 ("concentration, true (per µm²)", conc["true_per_um2"]),
                 ("concentration error (%)", conc["relative_error_percent"])]  # fmt: skip
    body = "".join(
        f"<tr><td>{html.escape(k)}</td><td class='num'>{v:.3f}</td></tr>" if isinstance(v, float)
        else f"<tr><td>{html.escape(k)}</td><td class='num'>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )  # fmt: skip
    header = "<h2>Comparison with the simulator's ground truth</h2>"
    return f"{header}<table><tr><th>measure</th><th>value</th></tr>{body}</table>"


def _plots(folder: Path) -> str:
    images = [_img(p.read_bytes(), p.stem) for stem in _PLOTS for p in [folder / stats_plot_name(stem)] if p.is_file()]
    return f'<div class="plots">{"".join(images)}</div>' if images else ""


def _concentration_table(folder: Path, scope: str) -> str:
    path = folder / stats_table_name("concentration")
    if not path.is_file():
        return ""
    table = pd.read_csv(path)
    table = table[table["scope"] == scope] if scope != "any" else table
    return _table(table)


def _pooled_section(run_dir: Path, manifest: Manifest) -> str:
    pooled = run_dir / "pooled"
    if not pooled.is_dir():
        return ""
    parts = ["<h2>Pooled over all tomograms</h2>"]
    summary = pooled / stats_summary_name("pooled")
    if summary.is_file():
        results = json.loads(summary.read_text()).get("results", {})
        rows = "".join(
            f"<tr><td>{html.escape(a)}</td><td>{html.escape(k)}</td><td class='num'>{_fmt(v)}</td></tr>"
            for a, values in results.items() for k, v in values.items()
        )  # fmt: skip
        parts.append(f"<table><tr><th>analysis</th><th>quantity</th><th>value</th></tr>{rows}</table>")
    concentration = pooled / stats_table_name("concentration")
    if concentration.is_file():
        table = pd.read_csv(concentration)
        parts.append("<h3>Concentration per tomogram and pooled</h3>")
        parts.append(_table(table[table["scope"] != "membrane"]))
    neighbours = pooled / stats_table_name("neighbours_per_membrane")
    if neighbours.is_file():
        parts.append("<h3>Nearest neighbours per membrane</h3>" + _table(pd.read_csv(neighbours)))
    parts.append(_plots(pooled))
    return "".join(parts)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _concentrations(folders: TomogramFolders) -> dict[int, float] | None:
    path = folders.stats / stats_table_name("concentration")
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    rows = table[(table["scope"] == "membrane") & (table["class"].astype(str) == "all")]
    return {int(r.membrane_id): float(r.concentration_per_um2) for r in rows.itertuples()}


def _tomogram_section(run_dir: Path, name: str, entry: dict) -> str:
    folders = TomogramFolders(run_dir / "tomograms" / name, name)
    parts = [f'<h2 id="{html.escape(name)}">{html.escape(name)}</h2>']
    voxel = entry.get("voxel_size_ang")
    shape = entry.get("shape_zyx")
    parts.append(
        f"<p class='muted'>{html.escape(str(entry.get('path', '')))} · "
        f"{' x '.join(map(str, shape)) if shape else '?'} voxels (z, y, x) · {voxel or '?'} Å</p>"
    )
    note = ((entry.get("stages", {}).get("segment") or {}).get("summary") or {}).get("note")
    if note:  # e.g. a voxel size outside the segmentation model's training range
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    tomogram = Path(entry.get("path", ""))
    labels = folders.instances_path if folders.instances_path.is_file() else folders.seg_path
    if tomogram.is_file():
        try:
            figure = slice_figure(
                tomogram, labels if labels.is_file() else None, folders.particles_path, voxel_size_ang=voxel
            )
            parts.append(_png(figure))
        except Exception as err:  # a figure that cannot be drawn is reported, the page still renders
            parts.append(f"<p class='failed'>slice figure failed: {html.escape(str(err))}</p>")
    membranes = folders.membrane_files(picked=True) or folders.membrane_files()
    if membranes:
        try:
            figure = mesh_figure(membranes, folders.particles_path, concentration_per_um2=_concentrations(folders))
            parts.append(_png(figure))
        except Exception as err:
            parts.append(f"<p class='failed'>mesh figure failed: {html.escape(str(err))}</p>")
    table = _concentration_table(folders.stats, "membrane")
    if table:
        parts.append("<h3>Membranes</h3>" + table)
    else:
        summary = (entry.get("stages", {}).get("surfaces") or {}).get("summary")
        if summary:
            frame = pd.DataFrame([{k: v for k, v in summary.items() if not isinstance(v, (dict, list))}])
            parts.append("<h3>Membranes</h3>" + _table(frame))
    parts.append(_plots(folders.stats))
    parts.append(_morph_section(folders))
    return "".join(parts)


_MORPH_COLUMNS = {
    "membrane_id": "membrane",
    "area_nm2": "area (nm²)",
    "median_abs_mean_curvature_per_nm": "median |H| (1/nm)",
    "median_gaussian_curvature_per_nm2": "median K (1/nm²)",
    "median_bilayer_thickness_nm": "median bilayer thickness (nm)",
    "thickness_fitted_fraction": "thickness fitted (fraction)",
    "median_distance_out_nm": "median distance to next membrane (nm)",
    "median_spacing_nm": "median spacing (nm)",
    "nearest_membrane_id": "next membrane",
}


def _morph_section(folders: TomogramFolders) -> str:
    """The morph stage's per-membrane table and figures, if it ran."""
    table_path = folders.morph / stats_table_name(f"{folders.name}_membranes")
    if not table_path.is_file():
        return ""
    table = pd.read_csv(table_path)
    table = table[[c for c in _MORPH_COLUMNS if c in table]].rename(columns=_MORPH_COLUMNS)
    stems = ("histograms", "maps", "particle_patches")
    images = [_img(p.read_bytes(), p.stem) for stem in stems
              for p in [folders.morph / stats_plot_name(f"{folders.name}_{stem}")] if p.is_file()]  # fmt: skip
    figures = f'<div class="plots">{"".join(images)}</div>' if images else ""
    return "<h3>Membrane morphometrics</h3>" + _table(table) + figures


def missing_outputs(run_dir: Path, manifest: Manifest) -> list[str]:
    """Outputs of stages the manifest records as done that are not on disk (paths relative to ``run_dir``)."""
    expected = []
    for name, entry in sorted(manifest.tomograms.items()):
        for record in (entry.get("stages") or {}).values():
            if (record or {}).get("status") == "done":
                expected += [Path("tomograms") / name / out for out in record.get("outputs", [])]
    if (manifest.pooled or {}).get("status") == "done":
        expected += [Path(out) for out in manifest.pooled.get("outputs", [])]
    return [str(path) for path in expected if not (run_dir / path).exists()]


def write_report(
    run_dir: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None, *, max_tomograms: int = 50
) -> Path:
    """Write the HTML report of a run folder (default ``<run_dir>/report.html``), atomically.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`cryomem.pipeline.run_pipeline` (it holds ``manifest.json``).
    out_path : path, optional
        Where to write the page.
    max_tomograms : int, default 50
        Tomograms drawn in full (the status table lists all); keeps the page small for large runs.

    Returns
    -------
    pathlib.Path
        The page: self-contained (no external files or network), images as inline base64 PNG.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` has no manifest (not a run folder), or outputs of stages it records as done
        are missing (e.g. a deleted ``tomograms`` folder): the page would call them finished.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "manifest.json").is_file():
        raise FileNotFoundError(f"{run_dir} holds no manifest.json; pass a folder written by `cryomem run`")
    manifest = Manifest.load(run_dir)
    missing = missing_outputs(run_dir, manifest)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise FileNotFoundError(
            f"{len(missing)} outputs that {run_dir}/manifest.json lists as finished are missing ({shown}); "
            f"re-run `cryomem run` on the same tomograms with --out {run_dir} to recreate them, then the report"
        )
    out = Path(out_path) if out_path is not None else run_dir / "report.html"
    if out.is_dir():
        raise ValueError(f"report path {out} is a folder; pass an .html file path (--out)")
    n = len(manifest.tomograms)
    title = "/".join(run_dir.resolve().parts[-2:])
    finished = sum(1 for e in manifest.tomograms.values()
                   if all((r or {}).get("status") == "done" for r in e.get("stages", {}).values()))  # fmt: skip
    body = [
        f"<h1>cryomem run: {html.escape(title)}</h1>",
        f"<p>{n} tomogram{'s' if n != 1 else ''}, {finished} with every stage finished · updated "
        f"{html.escape(manifest.to_json()['updated'])} · {html.escape(str(run_dir.resolve()))}</p>",
        _comparison_section(run_dir),
        _status_section(manifest),
        _pooled_section(run_dir, manifest),
    ]
    shown = sorted(manifest.tomograms.items())[:max_tomograms]
    body += [_tomogram_section(run_dir, name, entry) for name, entry in shown]
    if n > len(shown):
        body.append(
            f"<p class='muted'>{n - len(shown)} more tomograms are not drawn (max_tomograms={max_tomograms}).</p>"
        )
    settings = html.escape(json.dumps(manifest.config, indent=1))
    body.append(f"<h2>Settings</h2><details><summary>run configuration</summary><pre>{settings}</pre></details>")
    body.append('<p class="muted" id="render-check">rendering…</p>')
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>cryomem report: {html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}<script>{_SCRIPT}</script></body></html>"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
