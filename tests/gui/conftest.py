"""Shared data of the GUI tests: one small demo run (simulated tomogram through the whole pipeline)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def qt_platform():
    """Qt's offscreen platform where there is no X server (pytest-xvfb starts one where Xvfb is installed,
    before the first Qt application; decided here, after pytest-xvfb has set DISPLAY)."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """``<tmp>/demo`` with ``data/demo.mrc`` and the run in ``run/`` (the fast demo: 48 x 96 x 96 voxels)."""
    from cryomem.pipeline import run_demo

    out = tmp_path_factory.mktemp("gui") / "demo"
    result = run_demo(out, fast=True)
    assert not result.run.failures, result.run.failures
    return out


def wait_for_job(qtbot, panel, timeout_ms: int = 300_000) -> None:
    """Wait until the panel's background job has finished and its results were shown."""
    qtbot.waitUntil(lambda: panel.job is not None and not panel.job.running, timeout=timeout_ms)
    qtbot.wait(50)  # the queued succeeded/failed signal runs on the viewer's thread
