"""The ``cryomem`` command line: thin adapters over the library."""

from cryomem.cli._app import main

__all__ = ["app", "main"]


def __getattr__(name: str):
    if name == "app":  # the typer app with every command, built on first use
        from cryomem.cli import _app

        return _app.app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
