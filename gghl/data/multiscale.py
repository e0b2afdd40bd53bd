"""Training batch sampler: every key carries its input size and its augmentation seed.

``MultiScaleBatchSampler`` yields lists of ``(index, size, seed)`` keys; ``DetectionSplit`` letterboxes
each sample to ``size`` and draws its augmentation from ``torch.Generator().manual_seed(seed)``, so a
training batch depends only on ``(seed, epoch, batch index)``, not on the number of workers. The size of batch ``i`` comes from ``gghl.data.transforms.MultiScale`` (a pure
function of ``(seed, epoch, i // every)``), so it changes every ``every`` batches, is the same in
every worker and rank, and ``target_transform`` (label maps computed in workers) sees the final size.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from torch.utils.data import BatchSampler, Sampler

from gghl.data.transforms import MultiScale


class MultiScaleBatchSampler(BatchSampler):
    """``BatchSampler`` whose batches are ``[(index, size, sample_seed), ...]``.

    Args:
        sampler: index sampler (random for training). batch_size, drop_last: as ``BatchSampler``.
        sizes: candidate square sizes (multiples of 32); one size = fixed-size training.
        every: batches per size. seed: seed of the size sequence and of the per-sample seeds.
    """

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        batch_size: int,
        drop_last: bool,
        sizes: Sequence[int] = (736, 768, 800, 832, 864),
        every: int = 10,
        seed: int = 0,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self.sizes, self.every, self.seed = list(sizes), int(every), int(seed)
        self.schedule = MultiScale(self.sizes, self.every, self.seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning each epoch; also forwarded to the inner sampler (DistributedSampler)."""
        self.epoch = int(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        rng = random.Random(f"{self.seed}:{self.epoch}:augment")
        for i, batch in enumerate(super().__iter__()):
            size = self.schedule.size_for_batch(i, self.epoch)
            yield [(int(idx), size, rng.getrandbits(63)) for idx in batch]
