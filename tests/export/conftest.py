"""Session-wide tiny checkpoints (GGHL, query detector, classifier) for the export tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .tiny_checkpoints import OVERRIDES, make_checkpoint


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("export_ckpts")
    return {kind: make_checkpoint(kind, out) for kind in OVERRIDES}
