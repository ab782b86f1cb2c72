"""The one reader of settings files: a YAML (or JSON) mapping, or one line saying what is wrong."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["read_yaml_mapping"]


def read_yaml_mapping(path: str | os.PathLike[str], what: str = "config file") -> dict:
    """The mapping of settings in a YAML file (``{}`` for an empty file).

    Raises
    ------
    FileNotFoundError
        ``path`` is not a file.
    ValueError
        Not valid YAML (the message names the line and column), or not a mapping.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist; pass an existing YAML file to --config")
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:  # one line: the problem and where, not YAML's excerpt
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ValueError(f"{what} {path} is not valid YAML{where}: {problem}; fix the file") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{what} {path} must hold a mapping of settings, got {type(loaded).__name__}")
    return loaded
