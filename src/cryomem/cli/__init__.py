"""The ``cryomem`` command line: thin adapters over the library."""

from cryomem.cli._app import app, main

__all__ = ["app", "main"]
