"""Training settings from three sources — a starting model, ``--config`` YAML, flags — with errors naming the source."""

from __future__ import annotations

import difflib
from pathlib import Path

from pydantic import BaseModel, ValidationError

from cryomem.cli._common import read_settings_yaml


def training_config(
    config_cls: type[BaseModel],
    config_file: Path | None,
    *,
    base: dict | None = None,
    base_source: str = "",
    flags: dict[str, tuple[str, object]] | None = None,
):
    """``config_cls`` validated from ``base`` < ``--config`` < ``flags`` (``{setting: (flag, value)}``, None: unset).

    A bad value is one line naming where it came from (the flag, the YAML file or ``base_source``),
    the value and what is allowed; an unknown YAML key names the close valid ones.
    """
    from_file = read_settings_yaml(config_file)
    unknown = sorted(set(from_file) - set(config_cls.model_fields))
    if unknown:
        close = {m for key in unknown for m in difflib.get_close_matches(str(key), config_cls.model_fields, n=2)}
        hint = f"did you mean {', '.join(sorted(close))}? " if close else ""
        raise ValueError(
            f"--config {config_file}: unknown setting(s) {', '.join(map(str, unknown))}; {hint}"
            f"valid settings: {', '.join(config_cls.model_fields)}"
        )
    given = {key: value for key, (_, value) in (flags or {}).items() if value is not None}
    try:
        return config_cls.model_validate({**(base or {}), **from_file, **given})
    except ValidationError as err:
        first = err.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else ""
        setting = ".".join(str(part) for part in first["loc"])
        if key in given:
            where = f"{flags[key][0]} {given[key]}"
        elif key in from_file:
            where = f"setting {setting} = {first.get('input')!r} in --config {config_file}"
        else:
            where = f"setting {setting} = {first.get('input')!r}{base_source}"
        text = str(first["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{where}: {text}") from None
