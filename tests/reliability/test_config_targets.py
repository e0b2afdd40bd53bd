"""Config hardening (issue 9 part 5): `_target_` allow-list and config errors that name key and file."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from gghl.cli._config import (
    CONFIG_DIR,
    ConfigError,
    check_targets,
    config_errors,
    config_file_for,
    instantiate_at,
)

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))


def _compose(name: str, overrides: list[str], hydra_cfg: bool = False):
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose(name, overrides=overrides, return_hydra_config=hydra_cfg)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_shipped_experiment_passes(experiment: str) -> None:
    cfg = _compose("train", [f"experiment={experiment}"])
    keys = check_targets(cfg)
    assert "model._target_" in keys and "data._target_" in keys


def test_eval_config_passes() -> None:
    assert check_targets(_compose("eval", ["ckpt_path=x"])) == []  # data: the checkpoint's (checked when loaded)
    assert check_targets(_compose("eval", ["ckpt_path=x", "data=dota"])) == ["data._target_"]


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("os.system", "outside the allowed packages"),
        ("builtins.eval", "outside the allowed packages"),
        ("torch.os.system", "from module 'posix'"),  # prefix matches, object is os.system
        ("gghl.cli._config.os.system", "from module 'posix'"),
        ("torch.hub.load", "foreign code"),
        ("torch.load", "foreign code"),
        ("torch.nn.Module.__init__.__globals__", "without dunders"),
        ("gghl.data.NoSuchThing", "cannot import"),
    ],
)
def test_rejected_target_names_the_key(target: str, reason: str) -> None:
    cfg = _compose("train", [f"model.net._target_={target}"], hydra_cfg=True)
    with pytest.raises(ConfigError, match=reason) as info:
        check_targets(cfg)
    assert info.value.key == "model.net._target_"
    assert "model.net._target_" in str(info.value)
    assert "command-line override" in str(info.value)  # the file/source that set it


def test_plain_dict_and_lists_report_the_full_path() -> None:
    stored = {
        "model": {
            "_target_": "gghl.tasks.gghl_detection.GGHLDetectionTask",
            "cbs": [{"_target_": "subprocess.run"}],
        }
    }
    with pytest.raises(ConfigError, match=r"model\.cbs\[0\]\._target_"):
        check_targets(stored)
    assert check_targets(stored, allow_external=True) == ["model._target_", "model.cbs[0]._target_"]


def test_opt_in_flag_allows_external_targets() -> None:
    cfg = _compose("train", ["model.net._target_=collections.OrderedDict", "+allow_external_targets=true"])
    assert "model.net._target_" in check_targets(cfg)


def test_user_config_dir_allows_external_targets(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("thing:\n  _target_: collections.OrderedDict\n")
    with initialize_config_dir(str(tmp_path), version_base="1.3"):
        cfg = compose("mine", return_hydra_config=True)
    assert check_targets(cfg) == ["thing._target_"]
    with pytest.raises(ConfigError):  # the same tree without the hydra sources is treated as ours
        check_targets({"thing": {"_target_": "collections.OrderedDict"}})


def test_config_file_for_names_the_group_file() -> None:
    cfg = _compose("train", [], hydra_cfg=True)
    assert config_file_for("model.net.backbone", cfg.hydra) == str(Path(CONFIG_DIR) / "model" / "gghl.yaml")
    assert config_file_for("seed", cfg.hydra) == str(Path(CONFIG_DIR) / "train.yaml")


def test_eval_missing_mandatory_key_names_key_and_file() -> None:
    from gghl.cli.eval import run

    cfg = _compose("eval", [], hydra_cfg=True)  # ckpt_path: ???
    with pytest.raises(ConfigError, match="ckpt_path") as info:
        run(cfg)
    assert info.value.file == str(Path(CONFIG_DIR) / "eval.yaml")


def test_eval_refuses_external_target_before_loading_anything() -> None:
    from gghl.cli.eval import run

    cfg = _compose("eval", ["ckpt_path=/nonexistent.ckpt", "+data._target_=os.system"])
    with pytest.raises(ConfigError, match=r"data\._target_"):
        run(cfg)


def test_instantiate_at_names_the_key() -> None:
    cfg = _compose("train", ["+data.no_such_argument=1"], hydra_cfg=True)
    with pytest.raises(ConfigError, match=r"(?s)config key data .*synthetic.yaml.*no_such_argument"):
        instantiate_at(cfg, "data")
    with pytest.raises(ConfigError, match="missing"):
        instantiate_at(cfg, "no.such.key")


def test_config_errors_wraps_omegaconf_errors() -> None:
    cfg = _compose("eval", [], hydra_cfg=True)
    with pytest.raises(ConfigError, match="ckpt_path"), config_errors(cfg):
        _ = cfg.ckpt_path


def test_checkpoint_with_foreign_target_is_refused(tmp_path) -> None:
    """A checkpoint's stored config passes the allow-list: `_target_: os.system` never runs."""
    import torch

    from gghl.tasks.checkpoint_config import CONFIG_KEY, build_task_from_checkpoint

    marker = tmp_path / "pwned"
    bad = {"state_dict": {}, CONFIG_KEY: {"model": {"_target_": "os.system", "command": f"touch {marker}"}}}
    path = tmp_path / "evil.ckpt"
    torch.save(bad, path)
    with pytest.raises(ConfigError, match=r"model\._target_.*evil\.ckpt"):
        build_task_from_checkpoint(path)
    assert not marker.exists()
