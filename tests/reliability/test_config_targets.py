"""Config hardening: the `_target_` allow-list (issue 9 part 5; explicit names since issue 13) and config errors
that name key and file."""

import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from gghl.config import (
    ALLOWED_TARGETS,
    CONFIG_DIR,
    DENIED_MODULES,
    ConfigError,
    check_targets,
    config_errors,
    config_file_for,
    instantiate_at,
    target_entries,
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
    assert (
        check_targets(_compose("eval", ["ckpt_path=x"])) == []
    )  # data: the checkpoint's (checked when loaded)
    assert check_targets(_compose("eval", ["ckpt_path=x", "data=dota"])) == ["data._target_"]


@pytest.mark.parametrize(
    "target",
    [
        "os.system",
        "builtins.eval",
        "subprocess.Popen",
        "torch.utils.collect_env.run",  # under torch., starts a process: admitted by the old prefix rule
        "torch.os.system",  # prefix matches, object is os.system
        "gghl.config.os.system",
        "torch.hub.load",
        "torch.load",
        "torch.nn.Module.__init__.__globals__",
        "gghl.data.NoSuchThing",
        "torch.nn.Linear",  # a harmless class, but not on the list: names, not packages
    ],
)
def test_rejected_target_names_the_key(target: str) -> None:
    cfg = _compose("train", [f"model.net._target_={target}"], hydra_cfg=True)
    with pytest.raises(ConfigError, match="not in the allow-list") as info:
        check_targets(cfg)
    assert info.value.key == "model.net._target_"
    assert "model.net._target_" in str(info.value)
    assert "command-line override" in str(info.value)  # the file/source that set it
    assert "allow_external_targets" in str(info.value)  # how to opt in for one's own classes


def _yaml_targets() -> dict[str, list[str]]:
    """Every ``_target_`` string in every file under configs/ (read directly: options no default reaches
    are covered too) -> the files naming it."""
    from omegaconf import OmegaConf

    found: dict[str, list[str]] = {}
    for path in sorted(Path(CONFIG_DIR).rglob("*.yaml")):
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        if path.parent.name == "hydra" or not isinstance(raw, dict):
            continue
        raw.pop("hydra", None)
        for _, value in target_entries(raw):
            found.setdefault(value, []).append(str(path.relative_to(CONFIG_DIR)))
    return found


def test_allow_list_holds_every_shipped_target() -> None:
    found = _yaml_targets()
    assert len(found) >= 20  # the scan really read the configs
    missing = {t: files for t, files in found.items() if t not in ALLOWED_TARGETS}
    assert not missing, f"add these to ALLOWED_TARGETS in gghl/config.py: {missing}"


def test_every_allowed_name_is_a_class_or_function_outside_loader_modules() -> None:
    """Stale or misspelled entries fail here (the check itself never imports); none lives in a module that
    loads or runs foreign code."""
    import inspect

    from hydra._internal.utils import _locate

    for name in sorted(ALLOWED_TARGETS):
        obj = _locate(name)
        assert inspect.isclass(obj) or inspect.isfunction(obj), name
        module = obj.__module__
        assert not any(module == d or module.startswith(d + ".") for d in DENIED_MODULES), (name, module)
        assert module.split(".")[0] in {"gghl", "torch", "timm", "lightning"}, (name, module)


def test_check_is_by_name_and_imports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "gghl_cfg_probe.py").write_text(f"open({str(marker)!r}, 'w')\ndef f(): pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = _compose("train", ["model.net._target_=gghl_cfg_probe.f"])
    with pytest.raises(ConfigError, match="not in the allow-list"):
        check_targets(cfg)
    assert not marker.exists() and "gghl_cfg_probe" not in sys.modules


def test_targets_created_by_interpolation_are_checked() -> None:
    """``${oc.create:...}`` builds a node (with a ``_target_``) only when resolved: it is resolved and walked."""
    from omegaconf import OmegaConf

    cfg = _compose("train", [], hydra_cfg=True)
    OmegaConf.update(
        cfg, "model.net.extra", "${oc.create:'{_target_: os.system, command: ls}'}", force_add=True
    )
    with pytest.raises(
        ConfigError, match=r"model\.net\.extra\._target_.*'os\.system' is not in the allow-list"
    ):
        check_targets(cfg)
    OmegaConf.update(
        cfg, "model.net.extra", "${oc.create:'[1, {_target_: torch.optim.SGD}]'}", force_add=True
    )
    assert "model.net.extra[1]._target_" in check_targets(cfg)


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

    from gghl.checkpoint import CONFIG_KEY
    from gghl.tasks.restore import restore_task

    marker = tmp_path / "pwned"
    bad = {"state_dict": {}, CONFIG_KEY: {"model": {"_target_": "os.system", "command": f"touch {marker}"}}}
    path = tmp_path / "evil.ckpt"
    torch.save(bad, path)
    with pytest.raises(ConfigError, match=r"model\._target_.*evil\.ckpt"):
        restore_task(path)
    assert not marker.exists()
