"""Chain single-sample transforms, threading one ``torch.Generator`` through them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import torch

from gghl.data.transforms._sample import Sample

__all__ = ["Compose"]


def _takes_generator(fn: Callable[..., Sample]) -> bool:
    """True when ``fn`` can be called as ``fn(sample, generator)``."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: call with the sample only
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return any(p.kind == p.VAR_POSITIONAL for p in params) or len(positional) >= 2


class Compose:
    """Apply ``transforms`` in order. Transforms of this package are called ``t(sample, generator)``;
    plain one-argument callables ``t(sample)`` work too."""

    def __init__(self, transforms: Sequence[Callable[..., Sample]]) -> None:
        self.transforms = list(transforms)
        self._with_gen = [_takes_generator(t) for t in self.transforms]

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:
        for t, with_gen in zip(self.transforms, self._with_gen):
            sample = t(sample, generator) if with_gen else t(sample)
        return sample

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"
