"""``bf16_fallback``: bf16 autocast on a CPU without native bfloat16 runs as fp32 (emulated bf16 is ~10x slower)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from gghl.cli import train


def _cfg(precision: str, accelerator: str = "cpu", fallback: bool | None = None):
    cfg = {"trainer": {"precision": precision, "accelerator": accelerator}}
    if fallback is not None:
        cfg["bf16_fallback"] = fallback
    return OmegaConf.create(cfg)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("precision", ["bf16-mixed", "bf16-true", "32-true", "16-mixed"])
def test_bf16_becomes_fp32_only_without_native_bf16(monkeypatch, native: bool, precision: str) -> None:
    monkeypatch.setattr(train, "cpu_has_native_bf16", lambda: native)
    cfg = _cfg(precision)
    note = train.resolve_precision(cfg)
    changed = precision.startswith("bf16") and not native
    assert cfg.trainer.precision == ("32-true" if changed else precision)
    assert (note is not None) == changed
    if changed:
        assert f"trainer.precision={precision} -> 32-true" in note and "bf16_fallback=false" in note


def test_fallback_off_keeps_bf16(monkeypatch) -> None:
    monkeypatch.setattr(train, "cpu_has_native_bf16", lambda: False)
    cfg = _cfg("bf16-mixed", fallback=False)
    assert train.resolve_precision(cfg) is None and cfg.trainer.precision == "bf16-mixed"


def test_gpu_runs_are_left_alone(monkeypatch) -> None:
    monkeypatch.setattr(train, "cpu_has_native_bf16", lambda: False)
    cfg = _cfg("bf16-mixed", accelerator="gpu")
    assert train.resolve_precision(cfg) is None and cfg.trainer.precision == "bf16-mixed"


def test_the_probe_answers_a_bool() -> None:
    assert isinstance(train.cpu_has_native_bf16(), bool)


def test_the_train_config_has_the_switch_on() -> None:
    from pathlib import Path

    from gghl.configs import CONFIG_DIR

    cfg = OmegaConf.load(Path(CONFIG_DIR) / "train.yaml")
    assert cfg.bf16_fallback is True
