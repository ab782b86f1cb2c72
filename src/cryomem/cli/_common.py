"""What every command shares: one-line errors, progress bars, parsing helpers, options read from settings models."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)
F = TypeVar("F", bound=Callable)


def _message(err: Exception) -> str:
    errors = getattr(err, "errors", None)
    if callable(errors):  # pydantic ValidationError: name the setting and the problem
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        text = str(first.get("msg", err)).removeprefix("Value error, ")
        given = first.get("input")
        if isinstance(given, int | float | str) and not isinstance(given, bool) and "got" not in text:
            text += f", got {given!r}"  # name the value, not only the rule
        return f"invalid setting {where}: {text}" if where else text
    return str(err)


def _os_message(err: OSError) -> str:
    """An operating-system error in one line, with what the user can do about a full disk."""
    text = f"{err.strerror or err} ({err.filename or 'file system'})"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        text += "; nothing was written: free disk space or choose an output folder on another disk"
    return text


def one_line_errors(command: F) -> F:
    """Turn user-facing errors into one red line and exit code 2 instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError) as err:
            console.print(f"[bold red]error:[/] {_message(err)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as err:
            console.print(f"[bold red]error:[/] {_os_message(err)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def parse_ints(text: str, n: int, name: str) -> tuple[int, ...]:
    """``"96,256,256"`` -> ``(96, 256, 256)`` with a clear error."""
    try:
        values = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise ValueError(f"{name} must be {n} integers separated by commas, got {text!r}") from None
    if len(values) != n:
        raise ValueError(f"{name} must be {n} integers separated by commas, got {text!r}")
    return values


def parse_floats(text: str, n: int, name: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{name} must be {n} numbers separated by commas, got {text!r}") from None
    if len(values) != n:
        raise ValueError(f"{name} must be {n} numbers separated by commas, got {text!r}")
    return values


def parse_weights(text: str, name: str) -> dict[str, float]:
    """``"sphere=3,torus=1"`` or ``"sphere,torus"`` -> weights."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        try:
            weights[key.strip()] = float(value) if value else 1.0
        except ValueError:
            raise ValueError(f"{name}: weight of {key!r} must be a number, got {value!r}") from None
    if not weights:
        raise ValueError(f"{name} needs at least one name (e.g. sphere=3,sheet=1), got {text!r}")
    return weights


class StageProgress:
    """A rich progress display with one bar per named stage; call it as ``progress(stage, fraction)``."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<32}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> StageProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for task in self._tasks.values():
            if exc[0] is None:
                self._progress.update(task, completed=1.0)
        self._progress.__exit__(*exc)

    def __call__(self, stage: str, fraction: float) -> None:
        if stage not in self._tasks:
            for task in self._tasks.values():
                self._progress.update(task, completed=1.0)
            self._tasks[stage] = self._progress.add_task(stage, total=1.0)
        self._progress.update(self._tasks[stage], completed=max(0.0, min(1.0, fraction)))


def setting_option(model: Any, name: str, *flags: str, help_extra: str = "", **kwargs: Any) -> Any:
    """A typer option whose default and help text are those of the settings model's field ``name``."""
    field = model.model_fields[name]
    text = field.description or name
    help_text = f"{text[:1].upper()}{text[1:]}{help_extra}."
    return typer.Option(field.default, *flags, help=help_text, **kwargs)


def build_settings(settings_class: Any, flags: dict[str, str], /, **values: Any) -> Any:
    """The settings built from the flags' values; a bad value is named by its flag (``flags``: setting -> flag)."""
    from pydantic import ValidationError

    try:
        return settings_class(**values)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        text = str(first.get("msg", err)).removeprefix("Value error, ")
        if not where:
            raise ValueError(text) from None
        flag = flags.get(where, "--" + where.replace("_", "-"))
        raise ValueError(f"{flag} {values.get(where)!r}: {text[0].lower()}{text[1:]}") from None


def read_settings_yaml(config_file: Path | None) -> dict:
    """The mapping of settings in a ``--config`` YAML file; ``{}`` without one."""
    from cryomem.io import read_yaml_mapping

    return {} if config_file is None else read_yaml_mapping(config_file)
