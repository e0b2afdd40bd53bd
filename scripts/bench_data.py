"""Data-loading benchmark: images/s of the synthetic and DOTA-layout loaders, GGHL targets off/on.

Usage: ``python scripts/bench_data.py [--size 800] [--workers 2] [--images 64] [--batch 8]``

* ``render``: one synthetic 800 px image with 20 objects, drawing only (median of 20, ms; also CPU ms).
* ``synthetic`` / ``dota``: full training loaders (augmentation + letterbox + collate) with N workers;
  the DOTA-layout set is written to a temp dir by the synthetic generator first (PNG, labelTxt).
* ``targets on``: a ``target_transform`` calls
  ``gghl.assigners.GaussianAssigner(C, variant="gghl_obb").reference_maps(polygons, labels, size)``
  per sample in the workers (skipped with a message when the assigner is not importable).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=800)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    return ap


if __name__ == "__main__":
    build_parser().parse_args()  # answers --help before the heavy imports below

import torch  # noqa: E402

from gghl.data.detection_datamodule import DetectionDataModule, DotaDataModule, SyntheticDataModule  # noqa: E402
from gghl.data.synthetic import SyntheticGenerator, SyntheticOrientedDataset  # noqa: E402
from gghl.data.synthetic_export import write_synthetic_dota  # noqa: E402


class ReferenceMaps:
    """Picklable target_transform: GGHL reference label maps per sample (stored in ``sample["maps"]``)."""

    def __init__(self, num_classes: int) -> None:
        from gghl.assigners import GaussianAssigner

        self.assigner = GaussianAssigner(num_classes, variant="gghl_obb")

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        size = int(sample["image"].shape[-1])
        sample["maps"] = self.assigner.reference_maps(sample["polygons"].double(), sample["labels"], size)
        return sample


def time_loader(dm: DetectionDataModule, n_batches: int) -> tuple[float, float, int]:
    """(images/s after the first batch, first-batch seconds, images timed)."""
    dm.setup("fit")
    t0 = time.perf_counter()
    it = iter(dm.train_dataloader())
    images, _ = next(it)
    t1 = time.perf_counter()
    n = 0
    for _ in range(n_batches - 1):
        try:
            images, _ = next(it)
        except StopIteration:
            break
        n += images.shape[0]
    t2 = time.perf_counter()
    del it
    return n / max(t2 - t1, 1e-9), t1 - t0, n


def main() -> None:
    args = build_parser().parse_args()
    torch.set_num_threads(1)

    g = SyntheticGenerator(args.size, min_objects=20, max_objects=20)
    g.render(0, 0)
    wall, cpu = [], []
    for i in range(20):
        t, c = time.perf_counter(), time.process_time()
        g.render(0, i)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(
        f"render {args.size}px 20 objects: median {1e3 * statistics.median(wall):.1f} ms wall, "
        f"{1e3 * statistics.median(cpu):.1f} ms CPU, best {1e3 * min(wall):.1f} ms"
    )

    try:
        ReferenceMaps(5)
        have_assigner = True
    except Exception as e:  # noqa: BLE001 - report and continue without "targets on"
        print(f"GGHL targets on: skipped ({type(e).__name__}: {e})")
        have_assigner = False

    n_batches = args.images // args.batch
    common = dict(img_size=args.size, batch_size=args.batch, num_workers=args.workers, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        syn = SyntheticOrientedDataset(args.images, img_size=args.size, seed=0)
        t = time.perf_counter()
        write_synthetic_dota(syn, tmp, "train")
        print(f"wrote {args.images} DOTA-layout images ({args.size}px) in {time.perf_counter() - t:.1f} s")
        makers = {
            "synthetic": lambda tt: SyntheticDataModule(
                train_size=args.images, val_size=0, test_size=0, target_transform=tt, **common
            ),
            "dota": lambda tt: DotaDataModule(
                tmp,
                version=None,
                class_names=syn.class_names,
                splits={"train": "train"},
                target_transform=tt,
                **common,
            ),
        }
        print(
            f"{'loader':<10} {'targets':<8} {'images/s':>9} {'first batch s':>14}  ({args.workers} workers, "
            f"batch {args.batch}, {args.size}px, {torch.get_num_threads()} torch thread)"
        )
        for name, make in makers.items():
            for on in (False, True):
                if on and not have_assigner:
                    continue
                dm = make(ReferenceMaps(5) if on else None)
                ips, first, n = time_loader(dm, n_batches)
                print(f"{name:<10} {'on' if on else 'off':<8} {ips:>9.1f} {first:>14.2f}  ({n} images timed)")


if __name__ == "__main__":
    main()
