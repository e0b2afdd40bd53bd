"""Which data ``gghl-eval`` evaluates on: the checkpoint's own data config, changed only where the command line
says so. Plain dicts in, plain dicts out (no Hydra, no torch), so the rule is testable on its own.

Rule (documented in ``gghl/configs/eval.yaml``):

1. Start from the data config stored in the checkpoint (``checkpoint["gghl_config"]["data"]``).
2. ``data.KEY=VALUE`` on the command line replaces that key only. ``data=<group>`` (e.g. ``data=dota``)
   replaces the whole data config by that group's (another dataset or layout), with its ``data.KEY``
   overrides on top.
3. Model-bound keys are the checkpoint's, whatever the data config says: the class list (``class_names``,
   ``num_classes``; a DOTA ``version`` preset naming other classes is dropped) and the network input side
   (``img_size`` / ``image_size``) = ``input_size`` when given, else the checkpoint's training size (the
   images themselves keep their size: a synthetic ``gen_size: null`` is pinned to the data's img_size first).
   Every such replacement that changes a given value is reported as a note (printed by the command).
4. ``class_names`` / ``num_classes`` that training added to the stored config for interpolation are dropped
   when the datamodule does not take them.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

#: Keys of the network input side in the detection / classification data configs.
SIZE_KEYS = ("img_size", "image_size")
#: Keys whose ``null`` means "the img_size" (synthetic data: the drawn image size); pinned to the data's own
#: img_size before that is replaced, so evaluating at another input size does not change the images.
FOLLOWS_IMG_SIZE = ("gen_size",)
CLASS_KEYS = ("class_names", "num_classes")


def _parameters(target: str | None) -> tuple[set[str], bool] | None:
    """``(explicit parameter names, takes **kwargs)`` of ``target``; ``None`` if it cannot be inspected."""
    if not target:
        return None
    try:
        from hydra._internal.utils import _locate

        params = inspect.signature(_locate(target)).parameters.values()
    except Exception:
        return None
    names = {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def resolve_eval_data(
    stored: Mapping[str, Any],
    given: Mapping[str, Any],
    class_names: Sequence[str],
    input_size: int | None,
) -> tuple[dict[str, Any], list[str]]:
    """The data config to evaluate on and the notes to print (module rule).

    Args:
        stored: the checkpoint's data config (plain dict).
        given: the command line's data config: the keys the user named, or a whole group when it has a
            ``_target_`` (plain dict, placeholders already removed).
        class_names: the model's classes (from the checkpoint).
        input_size: the network input side to evaluate at (``input_size`` or the checkpoint's).
    """
    notes: list[str] = []
    group = "_target_" in given
    data = dict(given) if group else {**stored, **given}
    if not data.get("_target_"):
        raise ValueError(
            "the checkpoint stores no data config (_target_) and none was given: pass data=<group>"
        )
    accepted = _parameters(str(data["_target_"]))
    names = [str(c) for c in class_names]
    if "class_names" in data or (accepted and "class_names" in accepted[0]):
        old = data.get("class_names")
        if old is not None and list(old) != names:
            notes.append(
                f"data.class_names {list(old)} replaced by the checkpoint's {len(names)} classes {names}"
            )
        data["class_names"] = names
        if data.get("version") is not None and old != names:
            data["version"] = None  # a preset class list (DOTA v1.0/1.5/2.0) of other classes
        if "num_classes" in data or (accepted and "num_classes" in accepted[0]):
            data["num_classes"] = len(names)
    if accepted is not None and not accepted[1]:
        for key in CLASS_KEYS:  # added to the stored config by training for ${data.num_classes}
            if key in data and key not in accepted[0]:
                del data[key]
    size_keys = [k for k in SIZE_KEYS if k in data or (accepted and k in accepted[0])]
    if input_size is not None:
        for key in size_keys[:1]:
            old = data.get(key)
            for follower in FOLLOWS_IMG_SIZE:
                if follower in data and data[follower] is None and old is not None:
                    data[follower] = int(old)
            if old is not None and int(old) != int(input_size):
                source = "the command line" if key in given and not group else "the data config"
                notes.append(
                    f"data.{key}={old} from {source} replaced by the network input size {input_size} "
                    f"(set input_size={old} to evaluate at {old})"
                )
            data[key] = int(input_size)
    return data, notes


def given_data(cfg_data: Any) -> dict[str, Any]:
    """The keys of the command line's ``data`` node that are set (``???`` placeholders dropped), resolved."""
    from omegaconf import DictConfig, OmegaConf

    if cfg_data is None:
        return {}
    if not isinstance(cfg_data, DictConfig):
        return dict(cfg_data)
    full = OmegaConf.to_container(cfg_data, resolve=True, throw_on_missing=False)
    return {str(k): full[k] for k in cfg_data.keys() if not OmegaConf.is_missing(cfg_data, k)}  # type: ignore[index]


__all__ = ["given_data", "resolve_eval_data"]
