"""Make a resumed run repeat the uninterrupted one exactly (weights, metrics, data order).

What a resume must restore, and who does it:

* optimizer, LR scheduler, epoch, global step, EMA weights (a submodule of the task): Lightning's checkpoint.
* data order and augmentation: a function of ``(seed, epoch)``. ``MultiScaleBatchSampler`` derives its sizes
  and per-sample augmentation seeds from its ``epoch`` and ``DistributedSampler`` its order, but Lightning
  only calls ``set_epoch`` on the *inner* sampler, and a ``RandomSampler`` with a generator continues
  that generator's stream (so epoch ``k`` of a fresh process would replay epoch 0). This callback sets the
  batch sampler's epoch and re-seeds every loader generator from ``(base seed, epoch)`` at each epoch start.
* global RNGs (torch, numpy, random; dropout, timm mixup, ...): re-seeded from ``(seed, epoch, rank)``
  at each epoch start, and their states are also saved in the checkpoint (``state_dict``) and restored on
  load, for checkpoints taken mid-epoch.

Lightning creates the first epoch's loader iterator (and starts workers, which prefetch) *before*
``on_train_epoch_start``; so on the first epoch of every ``fit`` call the iterator is rebuilt after
re-seeding (private ``fit_loop._data_fetcher``; guarded, a no-op if Lightning changes it).
"""

from __future__ import annotations

import os
import random
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

_BASE_ATTR = "_gghl_base_seed"


def epoch_seed(base: int, epoch: int, salt: int = 0) -> int:
    """A 63-bit seed that is a pure function of ``(base, epoch, salt)``."""
    return int(
        np.random.SeedSequence([int(base) % 2**63, int(epoch), int(salt)]).generate_state(1, np.uint64)[0]
        % np.uint64(2**63)
    )


def _reseed_generator(owner: Any, attr: str, epoch: int) -> None:
    gen = getattr(owner, attr, None)
    if not isinstance(gen, torch.Generator):
        return
    if not hasattr(owner, _BASE_ATTR + attr):  # remember the configured seed the first time we see it
        setattr(owner, _BASE_ATTR + attr, gen.initial_seed())
    gen.manual_seed(epoch_seed(getattr(owner, _BASE_ATTR + attr), epoch))


def set_loader_epoch(loader: DataLoader, epoch: int) -> None:
    """Make ``loader``'s order and augmentation for ``epoch`` independent of what ran before it."""
    batch_sampler = getattr(loader, "batch_sampler", None)
    if batch_sampler is not None and callable(getattr(batch_sampler, "set_epoch", None)):
        batch_sampler.set_epoch(epoch)  # MultiScaleBatchSampler: sizes + augmentation seeds (+ inner sampler)
    sampler = getattr(batch_sampler, "sampler", None) or getattr(loader, "sampler", None)
    _reseed_generator(sampler, "generator", epoch)  # RandomSampler(generator=...)
    _reseed_generator(loader, "generator", epoch)  # worker base seeds


def _loaders(obj: Any) -> list[DataLoader]:
    if isinstance(obj, DataLoader):
        return [obj]
    if isinstance(obj, dict):
        return [dl for v in obj.values() for dl in _loaders(v)]
    if isinstance(obj, (list, tuple)):
        return [dl for v in obj for dl in _loaders(v)]
    return []


class ExactResume(L.Callback):
    """Epoch-seeded data and RNGs plus RNG states in checkpoints (see the module docstring).

    Args:
        seed: base seed; ``None`` takes ``PL_GLOBAL_SEED`` (set by ``seed_everything``), else 0.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._first_epoch_of_fit = True

    def _base(self) -> int:
        if self.seed is not None:
            return int(self.seed)
        return int(os.environ.get("PL_GLOBAL_SEED", 0))

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._first_epoch_of_fit = True

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch
        s = epoch_seed(self._base(), epoch, salt=1 + trainer.global_rank)
        torch.manual_seed(s)
        random.seed(s)
        np.random.seed(s % 2**32)
        for loader in _loaders(trainer.train_dataloader):
            set_loader_epoch(loader, epoch)
        if self._first_epoch_of_fit:
            self._first_epoch_of_fit = False
            fetcher = getattr(trainer.fit_loop, "_data_fetcher", None)
            if fetcher is not None:
                iter(fetcher)  # rebuild the iterator created before this hook with the epoch's state

    def state_dict(self) -> dict[str, Any]:
        # Plain tensors / lists only: loadable with torch.load(weights_only=True).
        np_state = np.random.get_state()
        py_state = random.getstate()
        return {
            "torch": torch.get_rng_state(),
            "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
            "python": [py_state[0], list(py_state[1]), py_state[2]],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "torch" in state_dict:
            torch.set_rng_state(state_dict["torch"])
        if "numpy" in state_dict:
            name, keys, *rest = state_dict["numpy"]
            np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
        if "python" in state_dict:
            version, internal, gauss = state_dict["python"]
            random.setstate((version, tuple(internal), gauss))


__all__ = ["ExactResume", "epoch_seed", "set_loader_epoch"]
