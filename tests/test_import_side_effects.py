"""Importing cryomem changes nothing process-wide (STYLE.md: no warnings filters, env vars or logging at import)."""

import json
import subprocess
import sys

# Run in a fresh interpreter: in this one, other tests have already imported cryomem (and pytest has
# installed its own warnings filters), so an import here would prove nothing. Every third-party package
# cryomem imports anywhere is imported first, so what it does at its own import (scikit-learn sets
# KMP_* environment variables) is not charged to cryomem.
_PROBE = r"""
import ast, importlib.util, json, logging, os, pathlib, sys, warnings

root = pathlib.Path(importlib.util.find_spec("cryomem").origin).parent  # found, not imported
third_party = set()
for path in root.rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            third_party.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            third_party.add(node.module.split(".")[0])
for name in sorted(third_party - set(sys.stdlib_module_names) - {"cryomem", "__future__"}):
    try:
        importlib.import_module(name)
    except ImportError:  # an optional extra that is not installed
        pass

def state():
    root = logging.getLogger()
    return list(warnings.filters), dict(os.environ), list(root.handlers), root.level

names = sorted(
    ".".join(("cryomem",) + path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
    for path in root.rglob("*.py")
)

changed = []
before = state()
for name in names:
    if name.startswith("cryomem.gui") or name.endswith("__main__"):  # optional extra (napari, Qt); runs the CLI
        continue
    importlib.import_module(name)
    after = state()
    for what, old, new in zip(("warnings.filters", "os.environ", "root logger handlers", "root logger level"),
                              before, after):
        if old != new:
            changed.append(f"{name} changes {what}")
    before = after
print(json.dumps(changed))
"""


def test_importing_cryomem_changes_no_warnings_filters_env_or_logging():
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
