"""What ``cryomem segment predict`` checks before any work: which files are tomograms, and that each can be segmented.

Every tomogram of a batch is checked (readable 3D MRC, usable voxel size, no earlier outputs without
``--overwrite``, an image that is not constant and has no NaN inside) before the first is written,
so a bad input never leaves a half-done batch.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["check_headers_and_outputs", "check_values", "refuse_colliding_outputs", "tomograms_in"]


def tomograms_in(inputs: list[Path]) -> tuple[list[Path], list[Path]]:
    """Files as given, folders expanded to their tomograms (MRC files, OME-Zarr images); and the cryomem
    outputs skipped in folders.

    A folder's ``<stem>_seg.mrc``, ``_scores``, ``_instances``... are our own outputs, never tomograms.
    """
    from cryomem.io import is_derived_volume, is_mrc_path, is_zarr_path  # lazy: keeps `cryomem --help` instant

    found: list[Path] = []
    skipped: list[Path] = []
    for path in inputs:
        if path.is_dir() and not is_zarr_path(path):
            inside = sorted(
                p
                for p in path.iterdir()
                if not p.name.startswith(".") and ((p.is_file() and is_mrc_path(p)) or (p.is_dir() and is_zarr_path(p)))
            )
            skipped.extend(p for p in inside if is_derived_volume(p))
            inside = [p for p in inside if not is_derived_volume(p)]
            if not inside:
                raise ValueError(
                    f"folder {path} holds no .mrc/.rec/.map/.zarr tomograms (cryomem outputs such as *_seg.mrc are "
                    "not tomograms); pass the tomograms' folder or files"
                )
            found.extend(inside)
        elif not path.exists():
            raise FileNotFoundError(f"tomogram {path} does not exist; check the path")
        else:
            found.append(path)
    unique = {p.resolve(): p for p in found}  # the same file given twice is segmented once
    return list(unique.values()), skipped


def refuse_colliding_outputs(paths: list[Path], out_dir: Path | None) -> None:
    """Two tomograms whose outputs would land on the same names (same stem, same folder) are refused."""
    from cryomem.io import source_stem

    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"--out {out_dir} is a file; pass a folder (it is created if missing)")
    seen: dict[tuple[Path, str], Path] = {}
    for path in paths:
        key = ((out_dir or path.parent).resolve(), source_stem(path))
        if key in seen:
            raise ValueError(
                f"tomograms {seen[key]} and {path} would both write {key[1]}_seg.mrc into {key[0]}; "
                "segment them in separate runs with a different --out each, or rename one"
            )
        seen[key] = path


def check_headers_and_outputs(
    paths: list[Path], out_dir: Path | None, voxel_size: float | None, overwrite: bool
) -> dict[Path, float]:
    """Every tomogram a readable 3D MRC with a usable voxel size (Å, returned); earlier outputs need --overwrite."""
    from cryomem.io import read_volume, segment_output_paths

    for path in paths:
        existing = [str(p) for p in segment_output_paths(path, out_dir or path.parent).values() if p.exists()]
        if existing and not overwrite:
            raise FileExistsError(
                f"outputs of an earlier run exist: {', '.join(existing)}; pass --overwrite to replace them"
            )
    return {path: read_volume(path, voxel_size_ang=voxel_size).voxel_size_ang for path in paths}


def check_values(paths: list[Path], voxel_size: float | None) -> None:
    """Every tomogram holds an image (not constant, no NaN inside), so a batch never stops half-written."""
    from cryomem.io import check_tomogram_values, read_volume

    for path in paths:
        check_tomogram_values(read_volume(path, voxel_size_ang=voxel_size).data_zyx, path.name)
