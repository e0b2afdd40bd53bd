#!/usr/bin/env python
"""Label-error detection F1: gghl.evaluation.label_quality vs cleanlab on the same probabilities.

Digits (sklearn, 1797 images) get class-conditional label noise (default 10%, flips remembered);
out-of-fold probabilities come from k-fold cross-validation of a fast sklearn model, or from a file
written by ``scripts/audit_labels.py`` (``--probs oof.npz`` with ``labels``, ``pred_probs``, ``flipped``).
Prints precision / recall / F1 per seed and the mean; exits 1 if our default F1 < cleanlab's.

    python scripts/bench_label_quality.py --noise 0.1 --seeds 5 --model logreg
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np


def prf(mask: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = float((mask & truth).sum())
    p = tp / max(mask.sum(), 1)
    r = tp / max(truth.sum(), 1)
    return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)


def oof_probs(x: np.ndarray, labels: np.ndarray, model: str, folds: int, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    clf = {
        "logreg": lambda: LogisticRegression(max_iter=500, C=0.5),
        "svc": lambda: SVC(C=3, gamma="scale", probability=True, random_state=seed),
        "mlp": lambda: MLPClassifier((128,), alpha=1e-3, max_iter=300, random_state=seed),
    }[model]()
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cross_val_predict(clf, x, labels, cv=cv, method="predict_proba")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--noise", type=float, default=0.1, help="class-conditional noise rate")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--model", default="logreg", choices=["logreg", "svc", "mlp"])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--probs", default=None, help="npz from audit_labels.py instead of sklearn models")
    args = ap.parse_args(argv)

    import cleanlab.filter

    from gghl.data.classification.noise import inject_class_conditional_noise
    from gghl.evaluation.label_quality import find_label_issues

    runs = []
    if args.probs:
        z = np.load(args.probs)
        if "flipped" not in z:
            raise SystemExit(f"{args.probs}: no 'flipped' array (ground truth unknown)")
        runs.append(("file", z["labels"].astype(np.int64), z["pred_probs"], z["flipped"].astype(bool)))
    else:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = d.data / 16.0
        for seed in range(args.seeds):
            noisy, flipped = inject_class_conditional_noise(d.target, 10, args.noise, seed)
            runs.append((f"seed{seed}", noisy, oof_probs(x, noisy, args.model, args.folds, seed), flipped))

    methods = {
        "gghl (default: prune_by_count)": lambda y, p: find_label_issues(y, p),
        "gghl prune_by_noise_rate": lambda y, p: find_label_issues(y, p, filter_by="prune_by_noise_rate"),
        "cleanlab find_label_issues": lambda y, p: cleanlab.filter.find_label_issues(y, p),
    }
    table: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
    print(f"# label-error detection, digits, noise={args.noise}, probs={args.probs or args.model} "
          f"({args.folds}-fold out-of-fold)")
    print(f"{'run':8s} {'method':34s} {'n_flag':>6s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'ms':>7s}")
    for name, y, p, truth in runs:
        for m, fn in methods.items():
            t = time.perf_counter()
            mask = fn(y, p)
            ms = 1e3 * (time.perf_counter() - t)
            r = prf(mask, truth)
            table[m].append(r)
            print(f"{name:8s} {m:34s} {int(mask.sum()):6d} {r[0]:6.3f} {r[1]:6.3f} {r[2]:6.3f} {ms:7.1f}")
    print("\n| method | precision | recall | F1 (mean over runs) |\n|---|---|---|---|")
    for m, rs in table.items():
        a = np.mean(rs, 0)
        print(f"| {m} | {a[0]:.3f} | {a[1]:.3f} | {a[2]:.3f} |")
    ours = np.mean([r[2] for r in table["gghl (default: prune_by_count)"]])
    theirs = np.mean([r[2] for r in table["cleanlab find_label_issues"]])
    print(f"\nF1 gghl={ours:.4f} cleanlab={theirs:.4f} -> {'OK' if ours >= theirs else 'BELOW cleanlab'}")
    return 0 if ours >= theirs else 1


if __name__ == "__main__":
    sys.exit(main())
