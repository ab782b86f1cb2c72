"""Atomic writes: a crash never leaves a half-written file or folder at the target path.

Writers write to a temporary name in the target's own folder (same file system, so the final
``os.replace`` is atomic) and rename it onto the target only once writing succeeded.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

__all__ = [
    "atomic_directory",
    "atomic_file_set",
    "atomic_write_path",
    "created_folders",
    "files_listed_in_summary",
    "json_ready",
    "write_rows_csv",
    "write_numeric_csv",
    "write_file_set_with_summary",
    "write_table_csv",
]


def _sibling_name(target: Path, kind: str, *, keep_suffix: bool) -> Path:
    """A fresh hidden name beside ``target``: ``.<name>.<kind>-<random>[<suffix>]``."""
    suffix = "".join(target.suffixes[-1:]) if keep_suffix else ""
    return target.with_name(f".{target.name}.{kind}-{secrets.token_hex(6)}{suffix}")


def _check_parent(target: Path) -> None:
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot write {target}: folder {target.parent} does not exist; create it first")


def _fsync_path(path: Path) -> None:
    """Flush a written file to disk (best effort) so the rename never exposes an empty file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_write_path(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` when the block succeeds.

    The temporary name is ``.<name>.tmp-<random><suffix>`` in the same folder, keeping the
    target's last suffix so libraries that choose a format from the suffix still work. The
    temporary file is not created: the caller's writer creates it.

    Parameters
    ----------
    path : str or os.PathLike
        Final destination of the file. Its folder must exist.
    overwrite : bool, default True
        If False and ``path`` already exists, raise ``FileExistsError`` before writing.

    Yields
    ------
    pathlib.Path
        Where the caller must write the file.

    Raises
    ------
    FileNotFoundError
        If the target folder does not exist, or the block wrote nothing at the temporary path.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.

    Notes
    -----
    On any exception inside the block the temporary file is removed and the target is left
    untouched (absent, or its previous content).
    """
    target = Path(path)
    _check_parent(target)
    if not overwrite and target.exists():
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")
    tmp = _sibling_name(target, "tmp", keep_suffix=True)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"writing {target} produced no file at {tmp}")
        _fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; rename it to ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        Final folder. Its parent folder must exist.
    overwrite : bool, default False
        If ``path`` exists: with False raise ``FileExistsError`` (checked before and after the
        block); with True the old entry is moved aside and removed only after the new folder
        is complete and in place.

    Yields
    ------
    pathlib.Path
        An empty, existing temporary folder (``.<name>.tmp-<random>``) to fill.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the parent folder does not exist.

    Notes
    -----
    On any exception inside the block the temporary folder and its content are removed.
    """
    target = Path(path)
    _check_parent(target)

    def refuse_existing() -> None:
        if not overwrite and (target.exists() or target.is_symlink()):
            raise FileExistsError(f"{target} already exists; remove it or pass overwrite=True to replace it")

    refuse_existing()
    tmp = _sibling_name(target, "tmp", keep_suffix=False)
    tmp.mkdir()
    try:
        yield tmp
        refuse_existing()
        old = None
        if target.exists() or target.is_symlink():
            old = _sibling_name(target, "old", keep_suffix=False)
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:
                os.replace(old, target)
            raise
        if old is not None:
            _remove(old)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_file_set(
    paths: Sequence[str | os.PathLike[str]], *, overwrite: bool = True, stale: Sequence[str | os.PathLike[str]] = ()
) -> Iterator[list[Path]]:
    """Yield temporary paths for a set of files that must appear together or not at all.

    For outputs that share a folder with other results (``tomo_seg.mrc``, ``tomo_scores.mrc``...
    beside other tomograms' files), where :func:`atomic_directory` cannot be used. Nothing is
    renamed until every file of the set is written; on any exception every temporary file is
    removed and the targets keep their previous content.

    Parameters
    ----------
    paths : sequence of path-like
        The final files. Their folders must exist.
    overwrite : bool, default True
        If False and any target exists, raise ``FileExistsError`` before writing.
    stale : sequence of path-like, default ()
        Files of an earlier run that the new set replaces without rewriting (e.g. an instance map
        that no longer matches a new segmentation); removed once the new set is in place.

    Yields
    ------
    list of pathlib.Path
        Temporary paths, in the order of ``paths``; the caller's writers create them.
    """
    targets = [Path(p) for p in paths]
    for target in targets:
        _check_parent(target)
        if not overwrite and target.exists():
            raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")
    tmps = [_sibling_name(target, "tmp", keep_suffix=True) for target in targets]
    try:
        yield tmps
        for target, tmp in zip(targets, tmps, strict=True):
            if not tmp.exists():
                raise FileNotFoundError(f"writing {target} produced no file at {tmp}")
            _fsync_path(tmp)
        for target, tmp in zip(targets, tmps, strict=True):
            os.replace(tmp, target)
    except BaseException:
        for tmp in tmps:
            _remove(tmp)
        raise
    for old in map(Path, stale):
        if old not in targets:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()


@contextlib.contextmanager
def created_folders(*folders: str | os.PathLike[str]) -> Iterator[None]:
    """Create the missing ``folders`` (in order, parents first); if the block fails, remove the ones it
    created again, innermost first and only when still empty, so a failed command leaves no empty folders."""
    made = [Path(f) for f in folders if not Path(f).exists()]
    for folder in made:
        folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        raise


def write_rows_csv(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None
) -> Path:
    """Write dict rows as a CSV atomically; columns are ``columns`` (the header even without rows), by
    default the rows' keys in order of first appearance.

    A key missing from a row leaves its cell empty (e.g. validation columns of epochs without
    validation). Lines end in ``\n``, as pandas writes them. Returns the path.
    """
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_write_path(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return Path(path)


def json_ready(value: object) -> object:
    """A strict-JSON copy of ``value``: numpy scalars as Python numbers, paths as strings, NaN and
    infinities as null, tuples as lists (dicts and lists recursively)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_table_csv(path: str | os.PathLike[str], table: object) -> Path:
    """Write a pandas table as a CSV atomically (no index, 6 significant digits). Returns the path."""
    with atomic_write_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")  # type: ignore[attr-defined]
    return Path(path)


def write_numeric_csv(path: str | os.PathLike[str], columns: Mapping[str, object]) -> Path:
    """Write equal-length numeric columns as a CSV atomically, fast (a few seconds per million rows):
    integers as integers, floats with 6 significant digits, NaN as ``nan``. Returns the path."""
    import numpy as np

    arrays = [np.asarray(v).reshape(-1) for v in columns.values()]
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"columns of {path} differ in length: {[len(a) for a in arrays]}")
    formats = ["%d" if a.dtype.kind in "iub" else "%.6g" for a in arrays]
    table = np.column_stack([a.astype(np.float64) for a in arrays]) if arrays else np.zeros((0, 0))
    with atomic_write_path(path) as tmp:
        np.savetxt(tmp, table, fmt=formats, delimiter=",", header=",".join(columns), comments="")
    return Path(path)


def files_listed_in_summary(summary_path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """The files an earlier run listed in its JSON summary's ``files`` mapping (paths relative to
    ``out_dir``), kept only inside ``out_dir``: what a new run of the same name replaces or removes.
    An unreadable or missing summary lists nothing."""
    summary_path, out = Path(summary_path), Path(out_dir)
    if not summary_path.is_file():
        return []
    try:
        files = json.loads(summary_path.read_text()).get("files", {})
    except (ValueError, UnicodeDecodeError, AttributeError):
        return []
    paths = [out / str(p) for p in files.values()] if isinstance(files, dict) else []
    return [p for p in paths if out.resolve() in p.resolve().parents]


def write_file_set_with_summary(
    out_dir: str | os.PathLike[str],
    writers: Mapping[str, tuple[Path, Callable[[Path], object]]],
    summary_path: str | os.PathLike[str],
    report: Mapping[str, object],
) -> dict[str, Path]:
    """Write a command's output files and its JSON summary together, or none of them.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The output folder (created, with the files' sub-folders, and removed again if nothing lands).
    writers : mapping of role to (path, write)
        Each file's final path and a function that writes it to the temporary path it is given.
    summary_path : str or os.PathLike
        The JSON summary: ``report`` plus ``files`` (every role's path relative to ``out_dir``).
    report : mapping
        The summary's content (made strict JSON by :func:`json_ready`).

    Returns
    -------
    dict of str to pathlib.Path
        Every written file by role, ``summary`` included. Files that the folder's earlier summary of
        the same name listed and this set does not write are removed (:func:`files_listed_in_summary`).
    """
    out, summary_path = Path(out_dir), Path(summary_path)
    written = {role: Path(path) for role, (path, _) in writers.items()}
    files = {role: str(path.relative_to(out)) for role, path in written.items()}
    text = json.dumps(json_ready({**report, "files": files}), indent=2, allow_nan=False)
    stale = files_listed_in_summary(summary_path, out)
    targets = [*written.values(), summary_path]
    folders = sorted({out, *(path.parent for path in targets)}, key=lambda folder: len(folder.parts))
    with created_folders(*folders), atomic_file_set(targets, stale=stale) as tmps:
        for (_, write), tmp in zip(writers.values(), tmps, strict=False):
            write(tmp)
        tmps[-1].write_text(text)
    written["summary"] = summary_path
    return written
