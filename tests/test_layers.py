"""The layering of ../shared/DESIGN.md ("The house: layers; imports only point down"), kept by a test.

Every module under src/cryomem is parsed with ``ast`` (nothing is imported) and each ``cryomem.<package>``
import it makes, at the top or inside a function, under ``TYPE_CHECKING`` or through
``importlib.import_module("cryomem....")``, is checked against ``ALLOWED`` below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cryomem"

_STAGES = {"simulate", "segment", "pick", "stats", "morph"}
_BELOW_PIPELINE = _STAGES | {"geometry", "io"}

# The allowed graph, from ../shared/DESIGN.md, "The house (layers; imports only point down)":
#   cli/ -> pipeline/ -> simulate/, segment/, pick/, stats/, morph/ -> geometry/ -> io/
#   "segment, pick, stats, morph and simulate never import each other; gui imports only what cli may import"
# A package may always import its own modules. "cryomem" is the root package (cryomem/__init__.py,
# cryomem/__main__.py): ``python -m cryomem`` runs the CLI, so it may import anything.
ALLOWED: dict[str, set[str]] = {
    "cryomem": {"cli", "gui", "pipeline", *_BELOW_PIPELINE},
    "cli": {"gui", "pipeline", *_BELOW_PIPELINE},
    "gui": {"pipeline", *_BELOW_PIPELINE},
    "pipeline": set(_BELOW_PIPELINE),
    **{stage: {"geometry", "io"} for stage in _STAGES},
    "geometry": {"io"},
    "io": set(),
}


def _package_of(module: str) -> str:
    """``cryomem.pick._train`` -> ``pick``; ``cryomem`` and ``cryomem.__main__`` -> ``cryomem``."""
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] in {"__init__", "__main__"}):
        return "cryomem"
    return parts[1]


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    """Dotted name of a source file, and whether it is a package ``__init__``."""
    parts = ("cryomem", *path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def imported_cryomem_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, dotted name)`` of every cryomem module a source file imports, wherever the import is."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "cryomem":  # ``from cryomem import pick`` imports the package
                found += [(node.lineno, f"cryomem.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return [(line, name) for line, name in found if name == "cryomem" or name.startswith("cryomem.")]


def layer_violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Messages for each import in ``source`` that points up or sideways against ``ALLOWED``."""
    importer = _package_of(module)
    problems = []
    for line, name in imported_cryomem_modules(source, module, is_package):
        imported = _package_of(name)
        if imported == importer or (name == "cryomem" and importer != "cryomem"):
            # the own package; bare ``import cryomem`` only reaches __version__
            continue
        if importer not in ALLOWED:
            problems.append(f"{module}:{line}: package {importer!r} is not in DESIGN.md's layers (add it to ALLOWED)")
        elif imported not in ALLOWED[importer]:
            problems.append(f"{module}:{line}: {importer} imports {name}, which DESIGN.md's layers forbid")
    return problems


def test_no_module_imports_up_or_sideways():
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        module, is_package = _module_name(path, SRC)
        problems += layer_violations(path.read_text(encoding="utf-8"), module, is_package)
    assert not problems, "imports against the layers of ../shared/DESIGN.md:\n" + "\n".join(problems)


def test_every_package_is_in_the_layers():
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(ALLOWED), f"add {sorted(packages - set(ALLOWED))} to ALLOWED, as DESIGN.md places them"


@pytest.mark.parametrize(
    "module, source, bad",
    [
        ("cryomem.io._mrc", "from cryomem.geometry import mesh_from_mask", True),  # upward
        ("cryomem.geometry._x", "def f():\n    import cryomem.pick._train\n", True),  # upward, in a function
        ("cryomem.pick._predict", "from cryomem.stats import StatsConfig", True),  # sideways
        ("cryomem.segment._x", "from cryomem import pipeline", True),  # upward, package form
        ("cryomem.stats._run", "from ..pick import _predict", True),  # relative, sideways
        ("cryomem.stats._run", "importlib.import_module('cryomem.segment._inference')", True),
        ("cryomem.gui._widget", "from cryomem.cli import app", True),  # gui only what cli may import
        (
            "cryomem.pipeline._x",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n from cryomem.cli import a",
            True,
        ),
        ("cryomem.pick._predict", "from cryomem.geometry import x\nfrom cryomem.io import y", False),
        ("cryomem.stats._run", "from . import _plots\nfrom ..io import read_mrc", False),
        ("cryomem.pipeline._stages", "from cryomem.segment import a\nfrom cryomem.stats import b", False),
        ("cryomem.cli._app", "from cryomem.pipeline import run\nimport cryomem", False),
        ("cryomem.io._mrc", "import numpy\nfrom cryomem.io._atomic import w", False),
    ],
)
def test_the_checker_catches_upward_and_sideways_imports(module, source, bad):
    assert bool(layer_violations(source, module)) is bad
