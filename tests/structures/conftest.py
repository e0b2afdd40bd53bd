"""Box-function tests run many tiny tensor ops: one intra-op thread avoids thread contention on
shared 2-core CI machines (40 ms -> 1 ms per call measured). Restored after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
