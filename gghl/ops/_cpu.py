"""Lazily built C++ kernels for the CPU path (``csrc/rotated_ops.cpp``), called through ctypes.

The library is compiled on first use with the system C++ compiler (``$CXX`` or ``c++``), OpenMP when
available, and cached under ``$GGHL_OPS_CACHE`` (default ``~/.cache/gghl/ops``) keyed by a hash of the
source and flags.  Installing gghl never needs a compiler: when none works, a warning is issued once
and callers fall back to the pure-torch reference.  ``GGHL_OPS_NO_EXT=1`` disables the extension.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import torch
from torch import Tensor

_SRC = Path(__file__).with_name("csrc") / "rotated_ops.cpp"
_FLAG_SETS = (
    ["-O3", "-fno-math-errno", "-std=c++17", "-fPIC", "-shared", "-fopenmp"],
    [
        "-O3",
        "-fno-math-errno",
        "-std=c++17",
        "-fPIC",
        "-shared",
    ],  # compilers without OpenMP (e.g. Apple clang)
)
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False


def _cache_dir() -> Path:
    return Path(os.environ.get("GGHL_OPS_CACHE", Path.home() / ".cache" / "gghl" / "ops"))


def _compile(cxx: str, src: str) -> Path | None:
    errors = []
    for flags in _FLAG_SETS:
        key = hashlib.sha256((src + cxx + " ".join(flags)).encode()).hexdigest()[:16]
        out = _cache_dir() / f"gghl_rotated_ops_{key}.so"
        if out.exists():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the target, then rename: concurrent processes never load a half-written file.
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
        os.close(fd)
        cmd = [cxx, *flags, str(_SRC), "-o", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            os.replace(tmp, out)
            return out
        os.unlink(tmp)
        errors.append(f"{' '.join(cmd)}\n{proc.stderr[-2000:]}")
    warnings.warn(
        "gghl.ops: C++ build failed, using the pure-torch reference:\n" + "\n".join(errors), stacklevel=3
    )
    return None


def _declare(lib: ctypes.CDLL) -> None:
    i64, i32, dbl, ptr = ctypes.c_int64, ctypes.c_int, ctypes.c_double, ctypes.c_void_p
    for name in ("box_iou", "poly_iou"):
        for suf in ("f32", "f64"):
            fn = getattr(lib, f"gghl_{name}_{suf}")
            fn.argtypes = [ptr, i64, ptr, i64, i32, ptr, i32]
            fn.restype = None
    for suf in ("f32", "f64"):
        fn = getattr(lib, f"gghl_nms_{suf}")
        fn.argtypes = [ptr, ptr, i64, dbl, ptr]
        fn.restype = None


def get_lib() -> ctypes.CDLL | None:
    """The loaded kernel library, building it on first call; ``None`` when unavailable."""
    global _lib, _tried
    if _tried:
        return _lib
    with _lock:
        if _tried:
            return _lib
        try:
            if os.environ.get("GGHL_OPS_NO_EXT", "0") == "1":
                return None
            cxx = (
                os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
            )
            if cxx is None or not _SRC.exists():
                warnings.warn(
                    "gghl.ops: no C++ compiler (or source) found; using the pure-torch reference",
                    stacklevel=3,
                )
                return None
            path = _compile(cxx, _SRC.read_text())
            if path is not None:
                lib = ctypes.CDLL(str(path))
                _declare(lib)
                _lib = lib
        except (OSError, subprocess.SubprocessError) as e:  # loader or toolchain trouble: degrade
            warnings.warn(
                f"gghl.ops: C++ extension unavailable ({e}); using the pure-torch reference", stacklevel=3
            )
        finally:
            _tried = True
    return _lib


def _suffix(x: Tensor) -> str:
    return {torch.float32: "f32", torch.float64: "f64"}[x.dtype]


def pairwise_iou(kind: str, x1: Tensor, x2: Tensor, aligned: bool) -> Tensor:
    """``kind`` in {"box", "poly"}; contiguous CPU float32/float64 ``[N, D]``, ``[M, D]`` -> IoU."""
    lib = get_lib()
    assert lib is not None
    x1, x2 = x1.contiguous(), x2.contiguous()
    n, m = x1.shape[0], x2.shape[0]
    out = x1.new_empty((n,) if aligned else (n, m))
    if out.numel():
        fn = getattr(lib, f"gghl_{kind}_iou_{_suffix(x1)}")
        fn(x1.data_ptr(), n, x2.data_ptr(), m, int(aligned), out.data_ptr(), torch.get_num_threads())
    return out


def nms_sorted(boxes: Tensor, cats: Tensor | None, iou_threshold: float) -> Tensor:
    """Greedy NMS of CPU boxes ``[N, 5]`` already in decreasing score order -> ``[N]`` bool keep."""
    lib = get_lib()
    assert lib is not None
    boxes = boxes.contiguous()
    c = None if cats is None else cats.to(torch.int64).contiguous()
    keep = torch.empty(boxes.shape[0], dtype=torch.uint8)
    if boxes.shape[0]:
        fn = getattr(lib, f"gghl_nms_{_suffix(boxes)}")
        fn(
            boxes.data_ptr(),
            None if c is None else c.data_ptr(),
            boxes.shape[0],
            float(iou_threshold),
            keep.data_ptr(),
        )
    return keep.bool()
