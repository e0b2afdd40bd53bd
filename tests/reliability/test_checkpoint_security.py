"""Checkpoint security and checkpoint errors, through the one loader and every command that reads a checkpoint.

* A stored config naming anything outside the allow-list (``torch.utils.collect_env.run``, ``os.system``,
  ``builtins.eval``, ``subprocess.Popen`` as ``_partial_``, a target in ``_args_``, in a nested list, behind an
  interpolation, in the data config) is refused by eval, export, predict and train resume, with and without
  ``allow_pickle=true``, before the named module is imported (a probe module records its own import).
* Empty / random / other-zip / text / truncated files get "not a checkpoint" and never the allow_pickle hint.
* A checkpoint of another kind, a plain state dict, weights that do not fit: one line naming the file.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import pickle
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from gghl.checkpoint import (
    CONFIG_KEY,
    CheckpointError,
    CheckpointKindError,
    CheckpointWeightsError,
    NotACheckpointError,
    PickledCheckpointError,
    read_checkpoint,
)
from gghl.config import CONFIG_DIR, ConfigError, UnsafeConfigError
from gghl.tasks.restore import restore_task

_spec = importlib.util.spec_from_file_location(
    "tiny_checkpoints", Path(__file__).resolve().parents[1] / "export" / "tiny_checkpoints.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)

PROBE = "gghl_ckpt_probe_mod"  # a module that records its own import (it must never be imported)


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("ckpts")
    return {k: tiny.make_checkpoint(k, out) for k in ("gghl", "classifier")}


@pytest.fixture(scope="module")
def base(ckpts: dict[str, Path]) -> dict[str, Any]:
    return torch.load(ckpts["gghl"], weights_only=True)


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``gghl_ckpt_probe_mod`` on sys.path; importing it writes the returned marker file."""
    marker = tmp_path / "probe_imported"
    mod_dir = tmp_path / "probe_mod"
    mod_dir.mkdir()
    (mod_dir / f"{PROBE}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\ndef boom(*a, **k):\n    open({str(marker)!r}, 'a').write('called')\n"
    )
    monkeypatch.syspath_prepend(str(mod_dir))
    monkeypatch.delitem(sys.modules, PROBE, raising=False)
    monkeypatch.delitem(sys.modules, "torch.utils.collect_env", raising=False)
    monkeypatch.setenv("GGHL_PROBE_TARGET", f"{PROBE}.boom")
    return marker


def _net(c: dict) -> dict:
    return c["model"]["net"]


# name -> (mutation of the stored config, key path the error must name)
EVIL: dict[str, tuple[Callable[[dict, Path], None], str]] = {
    "collect_env_run": (
        lambda c, m: _net(c).update(_target_="torch.utils.collect_env.run"),
        "model.net._target_",
    ),
    "os_system": (
        lambda c, m: c.update(model={"_target_": "os.system", "command": f"touch {m}"}),
        "model._target_",
    ),
    "builtins_eval": (
        lambda c, m: c["model"].update(
            postprocess={"_target_": "builtins.eval", "_args_": [f"open({str(m)!r}, 'w')"]}
        ),
        "model.postprocess._target_",
    ),
    "popen_partial": (
        lambda c, m: c["model"].update(
            postprocess={"_target_": "subprocess.Popen", "_partial_": True, "args": ["touch", str(m)]}
        ),
        "model.postprocess._target_",
    ),
    "probe_target": (lambda c, m: _net(c).update(_target_=f"{PROBE}.boom"), "model.net._target_"),
    "target_in_args": (
        lambda c, m: c["model"]["postprocess"].update(_args_=[{"_target_": f"{PROBE}.boom"}]),
        "model.postprocess._args_[0]._target_",
    ),
    "nested_list": (
        lambda c, m: _net(c).update(extra=[[{"deeper": [{"_target_": f"{PROBE}.boom", "_partial_": True}]}]]),
        "model.net.extra[0][0].deeper[0]._target_",
    ),
    "oc_create": (
        lambda c, m: _net(c).update(neck_convs=f"${{oc.create:'{{_target_: {PROBE}.boom}}'}}"),
        "model.net.neck_convs",
    ),
    "interpolated_target": (
        lambda c, m: _net(c).update(_target_="${oc.env:GGHL_PROBE_TARGET}"),
        "model.net._target_",
    ),
    "data_target": (lambda c, m: c["data"].update(_target_=f"{PROBE}.boom"), "data._target_"),
    "non_plain_value": (lambda c, m: _net(c).update(weights=torch.zeros(2)), "model.net.weights"),
    "non_string_key": (lambda c, m: _net(c).update({None: 1}), "model.net.None"),
    "hub_model_name": (
        lambda c, m: _net(c).update(backbone="hf-hub:timm/resnet10t.a1_in1k"),
        "model.net.backbone",
    ),
}


def _evil(base: dict, case: str, path: Path, marker: Path) -> Path:
    """The real checkpoint with one change to its stored config (weights cut to 3 tensors: refused before
    they matter, and small files keep the 88 command runs fast)."""
    ckpt = {
        **base,
        "state_dict": dict(list(base["state_dict"].items())[:3]),
        CONFIG_KEY: copy.deepcopy(base[CONFIG_KEY]),
    }
    EVIL[case][0](ckpt[CONFIG_KEY], marker)
    torch.save(ckpt, path)
    return path


def _assert_not_imported(marker: Path) -> None:
    assert not marker.exists(), marker.read_text()
    assert PROBE not in sys.modules
    assert "torch.utils.collect_env" not in sys.modules


# ------------------------------------------------------------------------------------------ commands
_COMPOSED: dict[tuple[str, ...], Any] = {}


def _compose(name: str, overrides: list[str], values: dict[str, Any]):
    """The command's config composed once per override list (composing costs ~0.5 s), with ``values`` (paths,
    ``ckpt_path``, ``allow_pickle``) set on a copy."""
    key = (name, *overrides)
    if key not in _COMPOSED:
        base = ["ckpt_path=x", "input=x"] if name == "predict" else ["ckpt_path=x"]
        with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
            _COMPOSED[key] = compose(name, overrides=[*base, *overrides])
    cfg = copy.deepcopy(_COMPOSED[key])
    for k, v in values.items():
        OmegaConf.update(cfg, k, str(v) if isinstance(v, Path) else v, merge=False)
    return cfg


def _values(ckpt: Path, allow_pickle: bool, **more: Any) -> dict[str, Any]:
    return {"ckpt_path": ckpt, "allow_pickle": allow_pickle, **more}


def run_eval(ckpt: Path, tmp: Path, allow_pickle: bool, extra: tuple[str, ...] = ()) -> Any:
    from gghl.cli.eval import run

    return run(
        _compose("eval", list(extra), _values(ckpt, allow_pickle, **{"paths.output_dir": tmp / "eval"}))
    )


def run_export(ckpt: Path, tmp: Path, allow_pickle: bool, extra: tuple[str, ...] = ()) -> Any:
    from gghl.cli.export import run

    return run(
        _compose("export", list(extra), _values(ckpt, allow_pickle, **{"paths.output_dir": tmp / "exp"}))
    )


def run_predict(ckpt: Path, tmp: Path, allow_pickle: bool, extra: tuple[str, ...] = ()) -> Any:
    from PIL import Image

    from gghl.cli.predict import run

    images = tmp / "images"
    images.mkdir(exist_ok=True)
    Image.new("RGB", (64, 48), (90, 120, 30)).save(images / "a.png")
    return run(
        _compose("predict", list(extra), _values(ckpt, allow_pickle, input=images, output=tmp / "pred"))
    )


def run_resume(ckpt: Path, tmp: Path, allow_pickle: bool, extra: tuple[str, ...] = ()) -> Any:
    """``gghl-train ckpt_path=CKPT`` with the tiny GGHL model (stops at the checkpoint check when it fails)."""
    from gghl.cli.train import run

    overrides = [*tiny.OVERRIDES["gghl"], "data.train_size=2", "data.val_size=2", "data.test_size=2",
                 "data.num_workers=0", "logger=none", "callbacks=none", "trainer.max_epochs=1", *extra]  # fmt: skip
    return run(
        _compose("train", overrides, _values(ckpt, allow_pickle, **{"paths.output_dir": tmp / "train"}))
    )


COMMANDS = {"eval": run_eval, "export": run_export, "predict": run_predict, "resume": run_resume}


def _one_line(err: BaseException, path: Path) -> str:
    msg = str(err)
    assert "\n" not in msg and len(msg) < 700, msg
    assert path.name in msg, msg
    return msg


# ------------------------------------------------------------------------------------------ security
@pytest.mark.parametrize("allow_pickle", [False, True])
@pytest.mark.parametrize("case", sorted(EVIL))
def test_loader_refuses_foreign_targets_before_import(
    base: dict, case: str, allow_pickle: bool, tmp_path: Path, probe: Path
) -> None:
    path = _evil(base, case, tmp_path / f"{case}.ckpt", probe)
    with pytest.raises(UnsafeConfigError) as info:
        restore_task(path, allow_pickle=allow_pickle)
    msg = _one_line(info.value, path)
    assert info.value.key == EVIL[case][1], msg
    assert "refused before anything is imported" in msg and "allow_pickle" not in msg
    _assert_not_imported(probe)


@pytest.mark.parametrize("allow_pickle", [False, True])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_every_foreign_target(
    base: dict, command: str, allow_pickle: bool, tmp_path: Path, probe: Path
) -> None:
    for case in sorted(EVIL):
        path = _evil(base, case, tmp_path / f"{case}.ckpt", probe)
        with pytest.raises(ConfigError) as info:
            COMMANDS[command](path, tmp_path, allow_pickle)
        msg = _one_line(info.value, path)
        assert EVIL[case][1] in msg, (case, msg)
        _assert_not_imported(probe)


def test_lightning_loads_check_the_stored_config_too(base: dict, tmp_path: Path, probe: Path) -> None:
    """Resume and ``trainer.test(ckpt_path=...)`` read through AtomicCheckpointIO: same check."""
    from gghl.callbacks import AtomicCheckpointIO

    path = _evil(base, "probe_target", tmp_path / "evil.ckpt", probe)
    for io in (AtomicCheckpointIO(), AtomicCheckpointIO(allow_pickle=True)):
        with pytest.raises(UnsafeConfigError, match=r"model\.net\._target_"):
            io.load_checkpoint(path)
    _assert_not_imported(probe)


def test_allow_pickle_still_checks_a_pickled_config(tmp_path: Path, base: dict, probe: Path) -> None:
    """A trusted (pickled) file is unpickled, but its stored config is still held to the list."""

    ckpt = copy.deepcopy(base)
    ckpt[CONFIG_KEY] = OmegaConf.create(ckpt[CONFIG_KEY])  # a pickled class: needs allow_pickle
    ckpt[CONFIG_KEY].model.net._target_ = f"{PROBE}.boom"
    path = tmp_path / "pickled.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(PickledCheckpointError, match="allow_pickle=true"):
        restore_task(path)
    with pytest.raises(UnsafeConfigError, match=r"model\.net\._target_"):
        restore_task(path, allow_pickle=True)
    _assert_not_imported(probe)


def test_rebuild_reads_nothing_but_the_checkpoint(tmp_path: Path, base: dict) -> None:
    """``pretrained`` / ``checkpoint_path`` in a stored config are cleared: a path that is gone (or points at a
    pickle) is never read, nothing is downloaded; the weights are the checkpoint's."""
    ckpt = copy.deepcopy(base)
    _net(ckpt[CONFIG_KEY]).update(pretrained=True, checkpoint_path=str(tmp_path / "gone.pth"))
    path = tmp_path / "paths.ckpt"
    torch.save(ckpt, path)
    task = restore_task(path).task
    own = task.state_dict()
    assert all(torch.equal(own[k], v) for k, v in base["state_dict"].items())


# --------------------------------------------------------------------------------- not a checkpoint
def _not_checkpoints(tmp: Path, good: Path) -> dict[str, Path]:
    raw = good.read_bytes()
    multi_disk = bytearray(
        raw
    )  # zip64 locator claiming 2 disks: zipfile.is_zipfile itself raises (fuzz find)
    loc = multi_disk.rfind(b"PK\x06\x07")
    assert loc > 0
    multi_disk[loc + 16 : loc + 20] = (2).to_bytes(4, "little")
    future_zip = bytearray(
        raw
    )  # central directory entry needing zip version 6.4: NotImplementedError (fuzz find)
    cen = future_zip.find(b"PK\x01\x02")
    assert cen > 0
    future_zip[cen + 6 : cen + 8] = (64).to_bytes(2, "little")
    files = {
        "multi_disk_zip": bytes(multi_disk),
        "future_zip_version": bytes(future_zip),
        "empty": b"",
        "random": os.urandom(4096),
        "text": b"hello, this is not a checkpoint\n",
        "truncated": raw[: len(raw) // 2],
        "truncated_tail": raw[:-20],
        "raw_pickle": pickle.dumps({"state_dict": {}}),
        "header_only": raw[:64],
    }
    out = {}
    for name, data in files.items():
        (tmp / f"{name}.ckpt").write_bytes(data)
        out[name] = tmp / f"{name}.ckpt"
    with zipfile.ZipFile(tmp / "other_zip.ckpt", "w") as z:
        z.writestr("a/readme.txt", "a zip, not torch")
    out["other_zip"] = tmp / "other_zip.ckpt"
    torch.save(torch.ones(3), tmp / "tensor.ckpt")  # a torch file, but not a checkpoint dict
    out["tensor"] = tmp / "tensor.ckpt"
    (tmp / "folder.ckpt").mkdir()
    out["folder"] = tmp / "folder.ckpt"
    return out


@pytest.mark.parametrize("allow_pickle", [False, True])
def test_corrupt_files_are_not_a_checkpoint(
    tmp_path: Path, ckpts: dict[str, Path], allow_pickle: bool
) -> None:
    for name, path in _not_checkpoints(tmp_path, ckpts["gghl"]).items():
        with pytest.raises(NotACheckpointError) as info:
            read_checkpoint(path, allow_pickle=allow_pickle)
        msg = _one_line(info.value, path)
        assert "not a checkpoint" in msg and "allow_pickle" not in msg, (name, msg)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_says_not_a_checkpoint(tmp_path: Path, ckpts: dict[str, Path], command: str) -> None:
    for name, path in _not_checkpoints(tmp_path, ckpts["gghl"]).items():
        with pytest.raises(NotACheckpointError) as info:
            COMMANDS[command](path, tmp_path, False)
        msg = _one_line(info.value, path)
        assert "not a checkpoint" in msg and "allow_pickle" not in msg, (name, msg)


def test_pickled_classes_get_the_allow_pickle_hint(tmp_path: Path) -> None:
    path = tmp_path / "old.ckpt"
    torch.save({"state_dict": {}, "obj": Path("x")}, path)
    with pytest.raises(PickledCheckpointError) as info:
        read_checkpoint(path)
    msg = _one_line(info.value, path)
    assert "PosixPath" in msg or "WindowsPath" in msg
    assert "allow_pickle=true" in msg
    assert read_checkpoint(path, allow_pickle=True)["obj"] == Path("x")


def test_legacy_torch_format_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "legacy.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}}, path, _use_new_zipfile_serialization=False)
    assert torch.equal(read_checkpoint(path)["state_dict"]["w"], torch.ones(2))


# -------------------------------------------------------------------------------------- model kinds
def _with_model(base: dict, model: dict, path: Path) -> Path:
    ckpt = copy.deepcopy(base)
    ckpt[CONFIG_KEY]["model"] = model
    torch.save(ckpt, path)
    return path


@pytest.mark.parametrize("command", ["eval", "export", "predict"])
def test_non_task_checkpoint_names_its_kind(tmp_path: Path, base: dict, command: str) -> None:
    path = _with_model(base, {"_target_": "torch.nn.Identity"}, tmp_path / "identity.ckpt")
    with pytest.raises(CheckpointKindError) as info:
        COMMANDS[command](path, tmp_path, False)
    msg = _one_line(info.value, path)
    assert "checkpoint holds torch.nn.Identity, not a gghl task; this command expects a GGHL detector, a query " \
           "detector or a classifier" in msg  # fmt: skip


def test_export_nms_expects_a_gghl_detector(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    with pytest.raises(CheckpointKindError) as info:
        run_export(ckpts["classifier"], tmp_path, False, ("nms=true",))
    msg = _one_line(info.value, ckpts["classifier"])
    assert msg.endswith(
        "checkpoint holds a classifier (gghl.tasks.classification.ClassificationTask); "
        "this command expects a GGHL detector"
    )


def test_resume_from_another_kind_is_one_line(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    with pytest.raises(CheckpointKindError) as info:
        run_resume(ckpts["classifier"], tmp_path, False)
    msg = _one_line(info.value, ckpts["classifier"])
    assert "checkpoint holds a classifier" in msg and "expects a GGHL detector" in msg


def test_resume_with_another_architecture_is_one_line(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    with pytest.raises(CheckpointWeightsError) as info:
        run_resume(ckpts["gghl"], tmp_path, False, ("model.net.neck_widths=[16,32,48]",))
    msg = _one_line(info.value, ckpts["gghl"])
    assert "weights do not fit the configured model (a GGHL detector):" in msg
    assert "of another shape (checkpoint vs model:" in msg and "[64" in msg


def test_weights_that_do_not_fit_their_config_are_one_line(tmp_path: Path, base: dict) -> None:
    ckpt = copy.deepcopy(base)
    sd = ckpt["state_dict"]
    for k in list(sd)[:5]:
        sd[f"extra.{k}"] = sd.pop(k)
    first = next(k for k in sd if k.endswith("weight") and not k.startswith("extra."))
    sd[first] = torch.zeros(3, 3)
    path = tmp_path / "misfit.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(CheckpointWeightsError) as info:
        restore_task(path)
    msg = _one_line(info.value, path)
    assert "5 missing (" in msg and "5 unexpected (extra." in msg and "1 of another shape" in msg
    assert ", ..." in msg  # a few examples, not every key


def test_non_finite_weights_are_refused(tmp_path: Path, base: dict) -> None:
    ckpt = copy.deepcopy(base)
    key = next(k for k, v in ckpt["state_dict"].items() if v.is_floating_point())
    ckpt["state_dict"][key] = ckpt["state_dict"][key].clone().fill_(float("nan"))
    path = tmp_path / "nan.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(CheckpointWeightsError, match=f"1 weight tensors hold NaN or inf \\({key}\\)"):
        restore_task(path)


def test_crafted_sizes_are_refused_before_allocating(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    """The model is built on the meta device first: ``num_classes: 10**9`` never allocates 4 GB."""
    ckpt = torch.load(ckpts["classifier"], weights_only=True)
    ckpt[CONFIG_KEY]["model"]["num_classes"] = 10**9
    path = tmp_path / "huge.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(CheckpointWeightsError) as info:
        restore_task(path)
    msg = _one_line(info.value, path)
    assert "of another shape" in msg and "[1000000000]" in msg


def test_plain_state_dict_is_not_a_gghl_checkpoint(tmp_path: Path, base: dict) -> None:
    path = tmp_path / "plain.pth"
    torch.save(base["state_dict"], path)
    with pytest.raises(CheckpointError) as info:
        run_eval(path, tmp_path, False)
    msg = _one_line(info.value, path)
    assert "no 'gghl_config' entry" in msg and "gghl-convert" in msg


def test_converter_helper_names_a_gghl_checkpoint_by_kind(base: dict, ckpts: dict[str, Path]) -> None:
    from gghl.checkpoint import refuse_gghl_checkpoint

    with pytest.raises(CheckpointKindError) as info:
        refuse_gghl_checkpoint(base, ckpts["gghl"], "official GGHL weights")
    assert str(info.value).endswith(
        "checkpoint holds a GGHL detector (gghl.tasks.gghl_detection.GGHLDetectionTask), already a gghl "
        "checkpoint; this command expects official GGHL weights"
    )
    refuse_gghl_checkpoint(base["state_dict"], ckpts["gghl"], "official GGHL weights")  # foreign weights pass


def test_distillation_teacher_goes_through_the_loader(ckpts: dict[str, Path]) -> None:
    from gghl.tasks.classification import load_eval_net

    assert not any(p.requires_grad for p in load_eval_net(str(ckpts["classifier"])).parameters())
    with pytest.raises(
        CheckpointKindError, match="holds a GGHL detector .*; this command expects a classifier$"
    ):
        load_eval_net(str(ckpts["gghl"]))


# ------------------------------------------------------------------------------------------ one reader
def test_torch_load_is_called_only_by_the_checkpoint_module() -> None:
    """Every checkpoint and weights file is read through :mod:`gghl.checkpoint` (weights_only, one-line errors):
    no other library module calls ``torch.load``."""
    import ast

    root = Path(__file__).resolve().parents[2] / "gghl"
    callers = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = node.func if isinstance(node, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr == "load" and ast.unparse(func.value) == "torch":
                callers.append(str(path.relative_to(root.parent)))
    assert callers == ["gghl/checkpoint.py", "gghl/checkpoint.py"], callers


def test_kinds_name_their_task_classes_where_they_are_defined() -> None:
    """:func:`gghl.checkpoint.model_kind` compares qualified class names (no import): each ``TASK_KINDS`` key
    must be the class's own module and name, and a subclass keeps its kind."""
    from hydra._internal.utils import _locate

    from gghl.checkpoint import TASK_KINDS, model_kind

    for target, kind in TASK_KINDS.items():
        cls = _locate(target)
        assert f"{cls.__module__}.{cls.__qualname__}" == target
        assert model_kind(cls.__new__(type("Sub", (cls,), {}))) == kind
    with pytest.raises(TypeError, match="Linear is not a gghl task"):
        model_kind(torch.nn.Linear(1, 1))


def test_weights_files_are_read_weights_only_in_one_line(tmp_path: Path) -> None:
    from gghl.checkpoint import read_weights

    good = tmp_path / "w.pt"
    torch.save({"a": torch.ones(2)}, good)
    assert torch.equal(read_weights(good)["a"], torch.ones(2))
    pickled = tmp_path / "pickled.pt"
    torch.save({"obj": Path("x")}, pickled)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.ones(2), tensor)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not weights")
    expected = {
        pickled: "could not be read with torch.load(weights_only=True)",
        tensor: "holds a Tensor, not a dict of weights",
        junk: "not a checkpoint",
    }
    for path, text in expected.items():
        with pytest.raises(NotACheckpointError) as info:
            read_weights(path)
        msg = _one_line(info.value, path)
        assert text in msg and "allow_pickle" not in msg, msg
    with pytest.raises(FileNotFoundError, match="weights file not found: .*gone.pt"):
        read_weights(tmp_path / "gone.pt")


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        (
            "img_size",
            "torch.nn.Identity",
            "'gghl_config.data.img_size' is 'torch.nn.Identity', not an integer",
        ),
        ("class_names", 7, "'gghl_config.data.class_names' is 7, not a list of names"),
    ],
)
def test_data_entries_of_the_wrong_type_are_one_line(
    tmp_path: Path, ckpts: dict[str, Path], key: str, value: Any, text: str
) -> None:
    """A fuzz find: the class names and input size every command reads from the stored data config are
    checked when the task is restored, not left to crash inside a command."""
    ckpt = torch.load(ckpts["classifier"], weights_only=True)
    ckpt[CONFIG_KEY]["data"][key] = value
    path = tmp_path / "bad_data.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError) as info:
        restore_task(path)
    assert text in _one_line(info.value, path)
