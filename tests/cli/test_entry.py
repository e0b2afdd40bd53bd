"""Command-line ergonomics: fast ``--help`` without heavy imports, one-line errors, closest-key hints."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from gghl.config import CONFIG_DIR, ConfigError

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("train", "eval", "export", "predict", "convert")
HEAVY = ("torch", "hydra", "lightning", "omegaconf", "numpy")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A command as a user runs it: without the test session's HYDRA_FULL_ERROR / GGHL_DEBUG."""
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "GGHL_DEBUG")}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=180, cwd=cwd, env=env
    )


def _existing(commands: tuple[str, ...]) -> list[str]:
    return [c for c in commands if (ROOT / "gghl" / "cli" / f"{c}.py").is_file()]


@pytest.mark.parametrize("command", _existing(COMMANDS))
def test_help_is_fast_and_imports_nothing_heavy(command: str) -> None:
    code = (
        "import sys, time\n"
        f"sys.argv = ['gghl-{command}', '--help']\n"
        "t = time.perf_counter()\n"
        f"from gghl.cli.{command} import main\n"
        "main()\n"
        "print('ELAPSED', time.perf_counter() - t)\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    wall = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout
    assert f"usage: gghl-{command}" in out.stdout
    assert "keys (gghl/configs/" in out.stdout
    # every listed key line has a description (the main keys of each command are documented in its yaml)
    assert wall < 1.5 or float(out.stdout.split("ELAPSED")[1].split()[0]) < 0.5, (wall, out.stdout[-200:])


def test_mistyped_override_names_the_closest_key() -> None:
    out = _run(["scripts/train.py", "trainer.max_epoch=1", "hydra.run.dir=/tmp/gghl_entry_test"], ROOT)
    assert out.returncode == 1
    assert "did you mean 'trainer.max_epochs'?" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr


def test_added_key_a_target_does_not_take_is_one_config_error() -> None:
    from gghl.cli._arguments import check_arguments

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=["+trainer.max_epoch=1"])
    with pytest.raises(
        ConfigError,
        match=r"trainer\.max_epoch.*Trainer takes no argument 'max_epoch'; did you mean 'trainer\.max_epochs'",
    ):
        check_arguments(cfg)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=["+model.net.neck_width=[1]"])
    with pytest.raises(ConfigError, match=r"model\.net\.neck_width.*did you mean 'model\.net\.neck_widths'"):
        check_arguments(cfg)


@pytest.mark.parametrize(
    "experiment", sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
)
def test_every_experiment_passes_the_argument_check(experiment: str) -> None:
    from gghl.cli._arguments import check_arguments

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"experiment={experiment}"])
    check_arguments(cfg)


def test_user_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    out = _run(
        ["scripts/export.py", f"ckpt_path={tmp_path / 'missing.ckpt'}", f"hydra.run.dir={tmp_path}"], ROOT
    )
    assert out.returncode == 1
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "missing.ckpt" in errors[0], out.stderr[-2000:]
    assert "Traceback" not in out.stderr
