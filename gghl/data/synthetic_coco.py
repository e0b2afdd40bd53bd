"""The synthetic set written to disk in COCO layout and read back through the real COCO loader.

Query detectors (StageInteractor, AdaMixer) are COCO-format models; training them on the synthetic set
*through* :class:`~gghl.data.detection_datamodule.CocoDataModule` exercises exactly the json/image path a
COCO user runs, with a set small enough for a CPU. The files are a pure function of the generator
settings, so they are written once (``prepare_data``) and reused; a ``synthetic_coco.json`` stamp beside
them records the settings, and a mismatch rewrites the set instead of silently training on stale files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gghl.data.detection_datamodule import SPLITS, CocoDataModule
from gghl.data.synthetic import SyntheticOrientedDataset, synthetic_class_names
from gghl.data.synthetic_export import write_synthetic_coco

STAMP = "synthetic_coco.json"


class SyntheticCocoDataModule(CocoDataModule):
    """Synthetic oriented objects in ``<root>/{train,val,test}`` + ``<root>/annotations/instances_{split}.json``.

    Splits use seeds ``seed``, ``seed + 1``, ``seed + 2`` (as :class:`SyntheticDataModule`), so the images
    equal the in-memory synthetic set's; targets are the HBB extents of the polygons (COCO ``bbox``).

    Args:
        root: folder for the written set (created if missing).
        num_classes, train_size, val_size, test_size, gen_size, generator: synthetic settings.
        **kwargs: :class:`DetectionDataModule` loader / augmentation options.
    """

    def __init__(
        self,
        root: str,
        num_classes: int = 5,
        class_names: Sequence[str] | None = None,
        train_size: int = 400,
        val_size: int = 64,
        test_size: int = 64,
        gen_size: int | None = None,
        generator: Mapping[str, Any] | None = None,
        img_size: int = 256,
        **kwargs: Any,
    ) -> None:
        names = synthetic_class_names(int(num_classes))
        if class_names is not None and list(class_names) != names:
            raise ValueError(f"synthetic class_names must be {names}, got {list(class_names)}")
        self.sizes = {"train": int(train_size), "val": int(val_size), "test": int(test_size)}
        splits = {s: (s if n > 0 else None) for s, n in self.sizes.items()}
        super().__init__(
            root=root,
            splits=splits,
            images="{split}",
            annotations="annotations/instances_{split}.json",
            class_names=names,
            num_classes=int(num_classes),
            img_size=img_size,
            **kwargs,
        )
        self.gen_size = int(gen_size) if gen_size else self.img_size
        self.generator_kwargs = dict(generator or {})

    def _settings(self) -> dict[str, Any]:
        return {
            "num_classes": self.num_classes,
            "sizes": self.sizes,
            "gen_size": self.gen_size,
            "generator": self.generator_kwargs,
            "seed": self.seed,
            "format": 1,
        }

    def prepare_data(self) -> None:
        """Write the set unless ``root`` already holds one with the same settings."""
        stamp = self.root / STAMP
        settings = self._settings()
        if stamp.is_file():
            try:
                if json.loads(stamp.read_text(encoding="utf-8")) == settings:
                    return
            except json.JSONDecodeError:
                pass  # a half-written stamp: rewrite everything below
        for split, n in self.sizes.items():
            if n <= 0:
                continue
            ds = SyntheticOrientedDataset(
                n,
                img_size=self.gen_size,
                num_classes=self.num_classes,
                seed=self.seed + SPLITS.index(split),
                **self.generator_kwargs,
            )
            write_synthetic_coco(ds, self.root / split, self._ann(split))
        # The stamp goes last: an interrupted write leaves no stamp and is redone on the next run.
        stamp.write_text(json.dumps(settings), encoding="utf-8")

    def make_raw(self, split: str):  # type: ignore[override] - same return type as CocoDataModule.make_raw
        # Lightning calls prepare_data first; direct users (tests, scripts) may not, so make sure here.
        self.prepare_data()
        return super().make_raw(split)
