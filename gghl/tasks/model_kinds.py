"""Model kinds (``gghl`` | ``query`` | ``classifier``) and how a checkpoint's kind is named in messages.

The kind of a checkpoint comes from its stored model config's ``_target_`` string (:func:`kind_of_target`):
nothing is imported or built to know it, so a command can refuse a checkpoint of the wrong kind before it
instantiates anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: ``_target_`` of each task class -> its kind.
TASK_KINDS: dict[str, str] = {
    "gghl.tasks.gghl_detection.GGHLDetectionTask": "gghl",
    "gghl.tasks.query_detection.QueryDetectionTask": "query",
    "gghl.tasks.classification.ClassificationTask": "classifier",
}
KINDS: tuple[str, ...] = ("gghl", "query", "classifier")
#: kind -> its task's ``_target_``.
TASK_TARGETS: dict[str, str] = {kind: target for target, kind in TASK_KINDS.items()}
#: How messages name each kind.
KIND_NAMES: dict[str, str] = {
    "gghl": "a GGHL detector",
    "query": "a query detector",
    "classifier": "a classifier",
}


def kind_of_target(target: Any) -> str | None:
    """The kind of a model config's ``_target_`` (a string), ``None`` for anything that is not a gghl task."""
    return TASK_KINDS.get(target) if isinstance(target, str) else None


def describe(kind: str | None, target: Any = None) -> str:
    """``"a query detector (gghl.tasks.query_detection.QueryDetectionTask)"``; for an unknown kind the
    target itself (``"gghl.x.Y, not a gghl task"``)."""
    if kind in KIND_NAMES:
        return f"{KIND_NAMES[kind]} ({target})" if target else KIND_NAMES[kind]
    return f"{target!s:.120}, not a gghl task" if target else "no model config"


def describe_expected(kinds: Iterable[str]) -> str:
    """``"a GGHL detector"`` / ``"a GGHL detector or a classifier"`` / ``"a GGHL detector, a query detector
    or a classifier"``."""
    names = [KIND_NAMES.get(k, k) for k in kinds]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def normalize_expected(expected: str | Iterable[str] | None) -> tuple[str, ...]:
    """``None`` -> every kind; a kind or an iterable of kinds -> a tuple. ``ValueError`` for an unknown name."""
    if expected is None:
        return KINDS
    kinds = (expected,) if isinstance(expected, str) else tuple(expected)
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"expected_kind must be one or more of {list(KINDS)}, got {expected!r}")
    return kinds


def model_kind(task: Any) -> str:
    """``gghl`` | ``query`` | ``classifier`` for a task instance; ``TypeError`` for anything else."""
    from gghl.tasks.classification import ClassificationTask
    from gghl.tasks.gghl_detection import GGHLDetectionTask
    from gghl.tasks.query_detection import QueryDetectionTask

    if isinstance(task, GGHLDetectionTask):
        return "gghl"
    if isinstance(task, QueryDetectionTask):
        return "query"
    if isinstance(task, ClassificationTask):
        return "classifier"
    raise TypeError(
        f"{type(task).__name__} is not a gghl task; supported: GGHL, query detector, classifier tasks"
    )
