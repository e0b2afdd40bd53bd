#!/usr/bin/env python
"""Find label errors in a DOTA-layout detection dataset (k-fold out-of-fold detections + audit).

Same as ``gghl-audit-detection``; ``--help`` lists the keys. Example (synthetic set with injected errors,
written by ``scripts/bench_detection_label_quality.py``):

    python scripts/audit_detection_labels.py data.root=/tmp/noisy_dota data.version=null \\
        data.class_names=[plane,vehicle,ship,storage-tank,court] data.num_classes=5 folds=3
"""

import sys

from gghl.cli.audit_detection import main

if __name__ == "__main__":
    sys.exit(main())
