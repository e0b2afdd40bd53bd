"""Checkpoint files written atomically and read without code execution.

``AtomicCheckpointIO`` replaces Lightning's ``TorchCheckpointIO`` in ``gghl-train``:

* save: serialise to ``<dir>/.<name>.tmp-<pid>`` in the *same directory*, ``fsync`` it, then
  ``os.replace`` it over the target (atomic on POSIX within one file system) and ``fsync`` the directory.
  A process killed at any moment leaves either the previous complete ``last.ckpt`` or the new one, never
  a truncated file. (Lightning's own ``_atomic_save`` goes through an fsspec transaction whose temporary
  file lives in the system temp folder, so its final move can be a non-atomic copy across file systems.)
* load: through the one checkpoint reader (:func:`gghl.checkpoint.read_checkpoint`) on every
  path (resume, ``trainer.test(ckpt_path=...)``): "not a checkpoint" for files that are not torch files,
  ``torch.load(weights_only=True)`` so an untrusted checkpoint cannot run code (``allow_pickle=True`` is the
  explicit opt-in for old files that pickled classes), and the stored config held to the ``_target_``
  allow-list whatever ``allow_pickle`` says.

``GGHL_CKPT_SAVE_DELAY_S`` (seconds, tests only) sleeps between writing the temporary file and the rename,
so a test can kill the process while a save is in flight.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from gghl.checkpoint import read_checkpoint

SAVE_DELAY_ENV = "GGHL_CKPT_SAVE_DELAY_S"


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save(obj, path)`` through a temporary file in the same directory and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        delay = float(os.environ.get(SAVE_DELAY_ENV, "0") or 0)
        if delay > 0:
            time.sleep(delay)
        os.replace(tmp, path)
    finally:
        if tmp.exists():  # failed or interrupted (exception) before the rename
            tmp.unlink()
    _fsync_dir(path.parent)
    remove_stale_temporaries(path)


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete ``.<name>.tmp-<pid>`` files of ``path`` left by processes that no longer run (a kill during
    a save leaves one; the checkpoint itself is intact). Returns the removed paths."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
            continue
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours (EPERM): leave its file alone
        return True
    return True


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself (directory entry); not supported on every platform/file system."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning ``CheckpointIO``: atomic saves, ``weights_only`` loads (``allow_pickle`` opts out)."""

    def __init__(self, allow_pickle: bool = False) -> None:
        super().__init__()
        self.allow_pickle = bool(allow_pickle)

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        atomic_torch_save(checkpoint, path)

    def load_checkpoint(
        self,
        path: Any,
        map_location: Callable | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        # Our flag decides, whatever Lightning passes: resume and test-time loads are both safe by default.
        return read_checkpoint(path, allow_pickle=self.allow_pickle, map_location=map_location)


__all__ = ["SAVE_DELAY_ENV", "AtomicCheckpointIO", "atomic_torch_save"]
