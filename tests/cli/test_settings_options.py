"""The stage commands read their option defaults from the stages' settings models, without importing torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.main import get_command

from cryomem.cli._app import app

# (command path, option name in the command, settings model, field)
CASES = [
    (("segment", "predict"), "threshold", "SegmentSettings", "threshold"),
    (("segment", "predict"), "tta", "SegmentSettings", "tta"),
    (("segment", "predict"), "batch_size", "SegmentSettings", "batch_size"),
    (("segment", "predict"), "sheet_filter", "SegmentSettings", "sheet_filter"),
    (("segment", "predict"), "min_instance_voxels", "SurfaceSettings", "min_voxels"),
    (("surface",), "min_voxels", "SurfaceSettings", "min_voxels"),
    (("surface",), "spacing_ang", "SurfaceSettings", "spacing_ang"),
    (("surface",), "smoothing", "SurfaceSettings", "smoothing_sigma_vox"),
    (("surface",), "feature_lowpass", "SurfaceSettings", "feature_lowpass_ang"),
    (("pick", "predict"), "tta", "PickSettings", "tta"),
    (("pick", "predict"), "bandwidth_ang", "PickSettings", "bandwidth_ang"),
    (("pick", "predict"), "seed_threshold_ang", "PickSettings", "seed_threshold_ang"),
    (("pick", "predict"), "seed", "PickSettings", "seed"),
]


def _settings_class(name: str):
    from cryomem.geometry import SurfaceSettings
    from cryomem.pick import PickSettings
    from cryomem.segment import SegmentSettings

    return {"SegmentSettings": SegmentSettings, "SurfaceSettings": SurfaceSettings, "PickSettings": PickSettings}[name]


@pytest.mark.parametrize(("path", "option", "model", "field"), CASES)
def test_option_default_and_help_come_from_the_settings_model(path, option, model, field):
    command = get_command(app)
    for name in path:
        command = command.commands[name]
    param = next(p for p in command.params if p.name == option)
    info = _settings_class(model).model_fields[field]
    assert param.default == info.default
    assert info.description[1:] in param.help


def test_the_cli_and_the_stages_share_one_settings_class_and_the_cli_loads_no_torch():
    code = (
        "import sys; from cryomem.cli import app; app.registered_groups; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "import cryomem.segment, cryomem.pick, cryomem.geometry, cryomem.pipeline as p; "
        "from cryomem.cli import _pick, _segment, _surface; "
        "assert _segment._SEGMENT is cryomem.segment.SegmentSettings is p.SegmentSettings; "
        "assert _surface._SURFACES is cryomem.geometry.SurfaceSettings is p.SurfaceSettings; "
        "assert _pick._PICK is cryomem.pick.PickSettings is p.PickSettings"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_console_script_builds_only_the_command_it_runs():
    """``cryomem segment ...`` imports no other command's module; the full app has every command."""
    code = (
        "import sys; sys.argv = ['cryomem', 'segment', '--help']; from cryomem.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "others = [m for m in ('cryomem.cli._morph', 'cryomem.cli._simulate', 'cryomem.cli._stats')\n"
        "          if m in sys.modules]\n"
        "assert not others, others"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "predict" in result.stdout and "threshold" in result.stdout and "patches" in result.stdout
    from typer.main import get_command

    from cryomem.cli import app
    from cryomem.cli._app import _COMMANDS

    assert set(get_command(app).commands) == set(_COMMANDS)
