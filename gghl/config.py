"""Configs: where they live, which ``_target_`` a config may instantiate, and errors that name key and file.

The one allow-list (:data:`ALLOWED_TARGETS`, exact names, no prefixes) and one comparison
(:func:`target_problem`, a string test: nothing is imported to decide) serve both kinds of config:

* command-line configs (:func:`check_targets`): the user may opt out for his own configs
  (``--config-dir`` / ``+allow_external_targets=true``);
* a checkpoint's stored config (:func:`check_untrusted_config`, applied by :mod:`gghl.checkpoint`): plain
  data, no interpolation, every target on the list; no opt-in, ``allow_pickle`` included.

A base module (imports only omegaconf and the standard library; Hydra inside the functions that need a running
job): models, tasks, export and the entry points all use it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from gghl.configs import CONFIG_DIR  # noqa: F401 - the config folder, beside the rules that read it

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ `_target_` allow-list
# The names a config's ``_target_`` may instantiate: one explicit list, no module prefixes. A name is compared
# as a string, exactly as the config spells it; nothing is imported to decide. A prefix rule ("anything under
# ``torch.``") admitted ``torch.utils.collect_env.run`` (starts a process) and would admit whatever a future
# torch adds; a list cannot grow by itself.
#
# What is here: every ``_target_`` of the shipped configs (``gghl/configs/``, all experiments and group options;
# ``tests/reliability/test_config_targets.py`` composes them and fails when one is missing), the project's
# other config-facing classes, and named torch / timm / Lightning classes a config may reasonably swap in
# (optimizers, schedulers, layers, callbacks, loggers). Left out on purpose: anything that loads files or
# code (``torch.load``, ``torch.hub.*``, ``timm.create_model`` with its ``checkpoint_path``), runs processes,
# takes a callable argument that would need another target (``LambdaLR``), or talks to a server on
# construction (``MLFlowLogger``).
#
# Adding a name: append it below (fully qualified, as configs spell it) with a reason in the commit; user
# configs may instead opt out of the list (``--config-dir`` / ``+allow_external_targets=true``), checkpoints
# never.

#: The project's own classes and functions that configs instantiate.
GGHL_TARGETS: frozenset[str] = frozenset(
    {
        # tasks (the model kinds, gghl.checkpoint.TASK_KINDS)
        "gghl.tasks.gghl_detection.GGHLDetectionTask",
        "gghl.tasks.query_detection.QueryDetectionTask",
        "gghl.tasks.classification.ClassificationTask",
        # model parts
        "gghl.models.gghl_detector.build_gghl_detector",
        "gghl.models.gghl_postprocess.GGHLPostProcess",
        "gghl.models.query.tiny_backbone.TinyConvBackbone",
        "gghl.models.query.detector.QueryDetector",
        "gghl.models.classifier.build_classifier",
        # query-detector criterion (DETR-style: matcher and label assigner injected)
        "gghl.losses.set_criterion.SetCriterion",
        "gghl.assigners.hungarian.HungarianMatcher",
        "gghl.assigners.cross_stage.CrossStageLabelAssigner",
        # data modules
        "gghl.data.detection_datamodule.SyntheticDataModule",
        "gghl.data.detection_datamodule.DotaDataModule",
        "gghl.data.detection_datamodule.CocoDataModule",
        "gghl.data.synthetic_coco.SyntheticCocoDataModule",
        "gghl.data.classification.DigitsDataModule",
        "gghl.data.classification.ImageFolderDataModule",
        "gghl.data.classification.CSVDataModule",
        # callbacks
        "gghl.callbacks.ExactResume",
        "gghl.callbacks.ValImageLogger",
    }
)

#: Named classes of torch / timm / Lightning.
THIRD_PARTY_TARGETS: frozenset[str] = frozenset(
    {
        # optimizers
        *(
            f"torch.optim.{n}"
            for n in ("SGD", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "RMSprop", "NAdam", "RAdam")
        ),
        *(
            f"timm.optim.{n}"
            for n in ("Lamb", "AdamP", "SGDP", "Lion", "AdaBelief", "Adan", "NAdamW", "Lars")
        ),
        # schedulers (no LambdaLR / MultiplicativeLR: they take a callable)
        *(
            f"torch.optim.lr_scheduler.{n}"
            for n in (
                "CosineAnnealingLR",
                "CosineAnnealingWarmRestarts",
                "StepLR",
                "MultiStepLR",
                "ExponentialLR",
                "LinearLR",
                "ConstantLR",
                "PolynomialLR",
                "OneCycleLR",
                "CyclicLR",
                "ReduceLROnPlateau",
                "SequentialLR",
                "ChainedScheduler",
            )
        ),
        # layers
        *(
            f"torch.nn.{n}"
            for n in (
                "Identity",
                "ReLU",
                "ReLU6",
                "SiLU",
                "GELU",
                "LeakyReLU",
                "Mish",
                "Hardswish",
                "Sigmoid",
                "Tanh",
                "BatchNorm2d",
                "SyncBatchNorm",
                "GroupNorm",
                "LayerNorm",
                "Dropout",
                "Dropout2d",
            )
        ),
        # Lightning trainer, callbacks, loggers, strategies
        "lightning.pytorch.Trainer",
        "lightning.pytorch.trainer.Trainer",
        *(
            f"lightning.pytorch.callbacks.{n}"
            for n in (
                "ModelCheckpoint",
                "LearningRateMonitor",
                "TQDMProgressBar",
                "RichProgressBar",
                "EarlyStopping",
                "ModelSummary",
                "RichModelSummary",
                "StochasticWeightAveraging",
                "Timer",
            )
        ),
        *(f"lightning.pytorch.loggers.{n}" for n in ("CSVLogger", "TensorBoardLogger", "WandbLogger")),
        "lightning.pytorch.strategies.DDPStrategy",
        "lightning.pytorch.strategies.SingleDeviceStrategy",
    }
)

#: Every name a ``_target_`` may hold (exact strings).
ALLOWED_TARGETS: frozenset[str] = GGHL_TARGETS | THIRD_PARTY_TARGETS

#: Modules that load or run foreign code (pickles, hub repos, C++ sources); no allowed name lives in them
#: (a test checks it).
DENIED_MODULES: tuple[str, ...] = (
    "torch.hub",
    "torch.serialization",
    "torch.package",
    "torch.utils.cpp_extension",
    "torch.utils.collect_env",
    "torch.jit._serialization",
    "torch.distributed.rpc",
)
#: Deepest nesting accepted in a checkpoint's stored config (ours are < 10 levels deep).
MAX_STORED_DEPTH = 64
#: Prefixes of model names that make timm fetch a config from a server or a folder (``timm.create_model``):
#: refused in stored configs, which must rebuild from the checkpoint alone.
EXTERNAL_MODEL_SOURCES: tuple[str, ...] = ("hf-hub:", "hf_hub:", "local-dir:")


# ------------------------------------------------------------------------------------------------ errors
class ConfigError(ValueError):
    """A config problem; the message names the key path and the config file it most likely came from."""

    def __init__(self, key: str, message: str, file: str | None = None) -> None:
        self.key = key
        self.file = file
        where = f" (from {file})" if file else ""
        super().__init__(f"config key {key}{where}: {message}")


class UnsafeConfigError(ConfigError):
    """A checkpoint's stored config names something it may not instantiate, or is not plain data."""


# -------------------------------------------------------------------------------- where a key came from
def _hydra_cfg(cfg: Any = None) -> DictConfig | None:
    """The running Hydra job's own config, else ``cfg.hydra`` (``compose(..., return_hydra_config=True)``),
    else ``None`` (plain ``compose`` in tests, checkpoint dicts)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return HydraConfig.get()
    if isinstance(cfg, DictConfig) and "hydra" in cfg:
        return cfg.hydra
    return None


def user_config_sources(hydra_cfg: DictConfig | None = None) -> list[str]:
    """Config folders the user passed on the command line (``--config-dir``, or ``--config-path`` pointing
    away from our ``configs/``). Empty when the run uses only our own tree."""
    hc = hydra_cfg if hydra_cfg is not None else _hydra_cfg()
    if hc is None:
        return []
    out = []
    ours = os.path.realpath(CONFIG_DIR)
    for src in hc.runtime.get("config_sources", []):
        provider, path, schema = src.get("provider"), str(src.get("path", "")), src.get("schema")
        if provider == "command-line":
            out.append(f"{schema}://{path}")
        elif provider == "main" and schema == "file" and os.path.realpath(path) != ours:
            out.append(f"{schema}://{path}")
    return out


def config_file_for(key: str, hydra_cfg: DictConfig | None = None) -> str | None:
    """Best guess of the file that set ``key`` (dotted path): a command-line override, the group file
    (``configs/<group>/<choice>.yaml``) of its first segment, else the primary config file."""
    hc = hydra_cfg if hydra_cfg is not None else _hydra_cfg()
    if hc is None:
        return None
    for ov in hc.overrides.get("task", []):
        name = str(ov).lstrip("+~").split("=", 1)[0]
        if key == name or key.startswith(name + "."):
            return f"command-line override {ov!r}"
    dirs = [str(s.get("path")) for s in hc.runtime.get("config_sources", []) if s.get("schema") == "file"]
    choices = hc.runtime.get("choices", {})
    parts = key.split(".")
    for n in range(len(parts), 0, -1):  # longest group first (nested groups like model/backbone)
        group = "/".join(parts[:n])
        choice = choices.get(group)
        if choice:
            for d in dirs:
                p = Path(d) / group / f"{choice}.yaml"
                if p.is_file():
                    return str(p)
    name = hc.job.get("config_name")
    for d in dirs:
        p = Path(d) / f"{name}.yaml"
        if name and p.is_file():
            return str(p)
    return None


# ------------------------------------------------------------------------------------------ target checks
#: The ``key`` :func:`_walk` gives list items (a dict key can be anything, ``None`` included).
LIST_ITEM = object()


def _walk(node: Any, path: str, depth: int = 0) -> Iterator[tuple[str, Any, Any, int]]:
    """``(key path, key, value, depth)`` of every dict entry and list item under ``node`` (plain containers),
    parents before children; list items have ``key=LIST_ITEM``. Key paths look like ``model.cbs[0]._target_``."""
    if isinstance(node, dict):
        for k, v in node.items():
            sub = f"{path}.{k}" if path else str(k)
            yield sub, k, v, depth + 1
            yield from _walk(v, sub, depth + 1)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            sub = f"{path}[{i}]" if path else f"[{i}]"
            yield sub, LIST_ITEM, v, depth + 1
            yield from _walk(v, sub, depth + 1)


def target_entries(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """``(key path of the _target_, raw value)`` for every ``_target_`` in a plain container tree (``path``:
    the key path of ``node`` itself, prefixed to every result)."""
    return [(p, v) for p, k, v, _ in _walk(node, path) if k == "_target_"]


def target_problem(target: Any, allowed: frozenset[str] | set[str] = ALLOWED_TARGETS) -> str | None:
    """Why ``target`` may not be instantiated, or ``None`` when it is an allowed name.

    A pure string comparison with :data:`ALLOWED_TARGETS`: nothing is imported to decide
    (importing a module runs its code)."""
    if not isinstance(target, str):
        return f"_target_ must be a string naming a class or function, got {type(target).__name__}"
    if target not in allowed:
        shown = target if len(target) <= 120 else target[:117] + "..."
        return (
            f"_target_ {shown!r} is not in the allow-list of instantiable names (gghl.config.ALLOWED_TARGETS)"
        )
    return None


def _resolved_containers(cfg: DictConfig, raw: Any) -> list[tuple[str, Any]]:
    """``(key path, plain container)`` for every interpolated string of ``raw`` (the unresolved tree of
    ``cfg``) that resolves to a dict or list (``${oc.create:...}``, ``${other.node}``): their ``_target_``s
    exist only after resolution. Strings that do not resolve yet are skipped (instantiation names them)."""
    out = []
    for path, _, value, _ in _walk(raw, ""):
        if isinstance(value, str) and "${" in value:
            try:
                node = OmegaConf.select(cfg, path, throw_on_missing=True)
            except Exception:  # a missing value or a resolver error: not a target source
                continue
            if isinstance(node, (DictConfig, ListConfig)):
                out.append((path, OmegaConf.to_container(node, resolve=False)))
    return out


def check_targets(
    cfg: DictConfig | Mapping[str, Any],
    allowed: frozenset[str] | set[str] = ALLOWED_TARGETS,
    allow_external: bool | None = None,
) -> list[str]:
    """Refuse ``_target_`` values outside :data:`ALLOWED_TARGETS` before anything is instantiated.

    For command-line configs (composed Hydra configs); a checkpoint's stored config goes through
    :func:`check_untrusted_config`, which has no opt-in. Every ``_target_`` in ``cfg`` - nested, in lists,
    in ``_args_``, and inside nodes an interpolation creates (``${oc.create:...}``) - must be one of the
    ``allowed`` names, compared as strings (nothing is imported to decide).

    Opt-in (checks skipped, a warning lists the external targets): ``allow_external=True``; or, when
    ``allow_external`` is ``None``, the config's top-level ``allow_external_targets: true``
    (``+allow_external_targets=true`` on the command line) or a config folder the user passed himself
    (``--config-dir`` / ``--config-path``, see :func:`user_config_sources`).

    Returns:
        key paths of all ``_target_`` entries that were checked (or allowed by opt-in).

    Raises:
        ConfigError: names the key path (e.g. ``model.detector.backbone._target_``) and the config file.
    """
    if isinstance(cfg, (DictConfig, ListConfig)):
        raw = OmegaConf.to_container(cfg, resolve=False)  # walk without resolving unrelated keys
    else:
        raw = dict(cfg)
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "hydra"}  # Hydra's own launcher/sweeper targets
    hc = _hydra_cfg(cfg)
    if allow_external is None:
        flag = raw.get("allow_external_targets", False) if isinstance(raw, dict) else False
        allow_external = bool(flag is True or str(flag).lower() == "true")
        user_src = user_config_sources(hc)
        if user_src and not allow_external:
            log.warning("config from user folder(s) %s: _target_ allow-list not enforced", user_src)
            allow_external = True
    targets = target_entries(raw, "")
    if isinstance(cfg, DictConfig):
        for path, node in _resolved_containers(cfg, raw):
            targets += target_entries(node, path)
    checked = []
    for key, value in targets:
        if isinstance(value, str) and "${" in value and isinstance(cfg, DictConfig):
            try:  # an interpolated target: check what it resolves to
                value = OmegaConf.select(cfg, key, throw_on_missing=True)
            except Exception as e:
                raise ConfigError(
                    key, f"cannot resolve _target_ ({type(e).__name__}: {e})", config_file_for(key, hc)
                ) from e
        problem = target_problem(value, allowed)
        if problem and allow_external:
            log.warning("instantiating external _target_ %r at %s (opted in)", value, key)
        elif problem:
            raise ConfigError(
                key,
                f"{problem}; to instantiate your own classes pass your config folder with --config-dir, or "
                "set +allow_external_targets=true",
                config_file_for(key, hc),
            )
        checked.append(key)
    return checked


# ------------------------------------------------------------------------------------------ stored configs
_PLAIN = (str, int, float, bool, type(None))


def check_untrusted_config(
    config: Any, source: str, allowed: frozenset[str] | set[str] = ALLOWED_TARGETS
) -> list[str]:
    """Check a config that came from a file (a checkpoint's ``gghl_config``) before anything is instantiated.

    The rule, closed by construction: the tree is plain data (dicts with string keys, lists, str / int / float /
    bool / None; at most :data:`MAX_STORED_DEPTH` levels), no string holds an OmegaConf interpolation (``${``:
    a resolver such as ``oc.create`` / ``oc.decode`` would build nodes - targets included - after this check,
    ``oc.env`` would read the environment; gghl stores configs resolved, so a real checkpoint has none), no
    string names an external model source (:data:`EXTERNAL_MODEL_SOURCES`: timm would fetch a config from a
    server), and every ``_target_`` anywhere (nested, in lists, ``_args_``, ``_partial_`` nodes) is one of ``allowed``,
    compared as a string. No opt-in lifts it (``allow_pickle`` only decides how the file is unpickled).

    Args:
        config: the stored config (``{"model": ..., "data": ...}``).
        source: named in errors, e.g. ``"checkpoint runs/last.ckpt"``.

    Returns:
        key paths of the ``_target_`` entries (all allowed).

    Raises:
        UnsafeConfigError: a :class:`ConfigError` naming the key path and ``source``.
    """

    def refuse(key: str, message: str) -> UnsafeConfigError:
        return UnsafeConfigError(key or "<root>", f"{message}; refused before anything is imported", source)

    if not isinstance(config, dict):
        raise refuse("", f"the stored config must be a mapping, got {type(config).__name__}")
    checked = []
    for path, key, value, depth in _walk(config, ""):
        if depth > MAX_STORED_DEPTH:
            raise refuse(path, f"nested deeper than {MAX_STORED_DEPTH} levels")
        if key is not LIST_ITEM and not isinstance(key, str):
            raise refuse(path, f"keys must be strings, got {type(key).__name__} {key!r:.40}")
        if isinstance(key, str) and "${" in key:
            raise refuse(path, "an interpolation in a key")
        if not isinstance(value, (dict, list, tuple, *_PLAIN)):
            raise refuse(path, f"holds a {type(value).__name__}; a stored config is plain data only")
        if isinstance(value, str) and "${" in value:
            raise refuse(path, f"holds an interpolation {value[:60]!r}; stored configs are resolved")
        if isinstance(value, str) and value.strip().lower().startswith(EXTERNAL_MODEL_SOURCES):
            raise refuse(
                path,
                f"names an external model source {value[:60]!r}; a checkpoint must rebuild from itself alone",
            )
        if key == "_target_":
            problem = target_problem(value, allowed)
            if problem:
                raise refuse(path, problem)
            checked.append(path)
    return checked


# ------------------------------------------------------------------------------- errors that name the key
@contextmanager
def config_errors(cfg: DictConfig | None = None) -> Iterator[None]:
    """Re-raise OmegaConf/Hydra config errors as :class:`ConfigError` naming the key and the file.

    ``with config_errors(cfg): run(cfg)`` turns e.g. ``MissingMandatoryValue`` for ``ckpt_path: ???``
    into ``config key ckpt_path (from configs/eval.yaml): missing mandatory value ...``.
    """
    from hydra.errors import InstantiationException
    from omegaconf.errors import OmegaConfBaseException

    try:
        yield
    except ConfigError:
        raise
    except OmegaConfBaseException as e:
        key = str(getattr(e, "full_key", "") or getattr(e, "key", "") or "?")
        raise ConfigError(
            key, f"{type(e).__name__}: {getattr(e, 'msg', None) or e}", config_file_for(key, _hydra_cfg(cfg))
        ) from e
    except InstantiationException as e:
        raise ConfigError("?", f"instantiation failed: {e}", None) from e


def instantiate_at(cfg: DictConfig, key: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate(cfg.<key>, **kwargs)`` whose errors name ``key`` and its config file."""
    import hydra
    from hydra.errors import InstantiationException
    from omegaconf.errors import OmegaConfBaseException

    try:
        node = OmegaConf.select(cfg, key, throw_on_missing=True)
    except OmegaConfBaseException as e:
        raise ConfigError(
            key, f"{type(e).__name__}: {getattr(e, 'msg', None) or e}", config_file_for(key, _hydra_cfg(cfg))
        ) from e
    if node is None:
        raise ConfigError(key, "missing (nothing to instantiate)", config_file_for(key, _hydra_cfg(cfg)))
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except (InstantiationException, OmegaConfBaseException) as e:
        raise ConfigError(key, f"{type(e).__name__}: {e}", config_file_for(key, _hydra_cfg(cfg))) from e


# --------------------------------------------------------------------------------------- derived keys
def inject_data_info(cfg: DictConfig, datamodule: object) -> None:
    """Expose the datamodule's ``num_classes`` / ``class_names`` to configs as ``${data.num_classes}`` etc."""
    with open_dict(cfg):
        for key in ("num_classes", "class_names"):
            if hasattr(datamodule, key):
                value = getattr(datamodule, key)
                cfg.data[key] = list(value) if key == "class_names" else int(value)
