"""One check for `cryomem simulate tomogram` refusing a bad value: exit 2, one clear line, nothing written."""

from typer.testing import CliRunner

from cryomem.cli import app


def assert_simulate_refuses(tmp_path, args: list[str], message: str) -> None:
    out = tmp_path / "never"
    result = CliRunner().invoke(app, ["simulate", "tomogram", str(out), "--shape", "40,64,64", *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2
    assert not out.exists()
