#!/usr/bin/env python
"""Label-error detection F1: gghl.evaluation.label_quality vs cleanlab on the same probabilities.

``--grid`` (default): simulated out-of-fold probabilities over noise model x noise rate x classes x
classifier quality; every cell is scored by our default ``find_label_issues`` and cleanlab's default
``cleanlab.filter.find_label_issues`` on the same labels and probabilities (F1 of the flagged set vs the
flipped items, mean over ``--seeds``). The simulation (no training):

* true labels from the class priors: uniform, or for ``rare`` a Zipf-like imbalance ``p_k ~ 1/(k+1)``;
* noise ``T[i, j] = P(given i | true j)`` with an expected flipped share equal to the rate:
  ``uniform`` (evenly to the other classes), ``neighbour`` (all to class ``j+1 mod K``), ``asym_pairs``
  (classes paired ``(2m, 2m+1)``: ``2m -> 2m+1`` at 1.5x the rate, ``2m+1 -> 2m`` at 0.5x), ``rare``
  (per-class rate ``~ 1/sqrt(prior)``, capped at 0.45: the rare classes carry most flips, evenly to others);
* a classifier: logits ``N(0, 1)`` plus ``mu`` for the true class and ``mu/2`` for its two ring
  neighbours (models confuse similar classes), scaled by a temperature so that the mean top probability
  equals the accuracy (a calibrated model); ``mu`` gives clean accuracy 0.9 (``good``) or 0.7 (``poor``);
* a model trained on noisy labels partly learns the noise: ``p = 0.5 p_clean + 0.5 T p_clean``.

N = 1500 / 3000 / 10000 items for K = 3 / 10 / 100. Prints a markdown table, a cell per rate with
``ours / cleanlab`` (``*`` where ours is behind) and the number of cells where ours >= cleanlab.

``--digits``: sklearn digits with class-conditional noise and k-fold sklearn out-of-fold probabilities,
or ``--probs oof.npz`` from ``scripts/audit_labels.py``; exits 1 if our default F1 < cleanlab's.

    python scripts/bench_label_quality.py --grid --seeds 3
    python scripts/bench_label_quality.py --digits --noise 0.1 --seeds 5 --model logreg
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings

import numpy as np

NOISE_MODELS = ("uniform", "neighbour", "asym_pairs", "rare")
RATES = (0.05, 0.1, 0.2, 0.3)
CLASSES = (3, 10, 100)
QUALITY = {"good": 0.9, "poor": 0.7}
ITEMS = {3: 1500, 10: 3000, 100: 10000}


def prf(mask: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = float((mask & truth).sum())
    p = tp / max(mask.sum(), 1)
    r = tp / max(truth.sum(), 1)
    return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)


# ---------------------------------------------------------------------------------------------- simulation
def class_priors(k: int, imbalanced: bool) -> np.ndarray:
    w = 1.0 / (np.arange(k) + 1.0) if imbalanced else np.ones(k)
    return w / w.sum()


def noise_matrix(k: int, model: str, rate: float, prior: np.ndarray) -> np.ndarray:
    """``T[i, j] = P(given i | true j)``, columns sum to 1, expected flipped share ``rate``."""
    t = np.zeros((k, k))
    if model == "uniform":
        t[:] = rate / (k - 1)
    elif model == "neighbour":
        t[(np.arange(k) + 1) % k, np.arange(k)] = rate
    elif model == "asym_pairs":
        share = 2 * (k // 2) / k  # classes in pairs
        for m in range(k // 2):
            t[2 * m + 1, 2 * m], t[2 * m, 2 * m + 1] = 1.5 * rate / share, 0.5 * rate / share
    elif model == "rare":
        lo, hi = 0.0, 10.0  # per-class rate min(0.45, c / sqrt(prior)) with sum prior * rate = rate
        for _ in range(100):
            c = (lo + hi) / 2
            lo, hi = (c, hi) if (prior * np.minimum(0.45, c / np.sqrt(prior))).sum() < rate else (lo, c)
        t[:] = np.minimum(0.45, c / np.sqrt(prior))[None, :] / (k - 1)
    else:
        raise ValueError(f"unknown noise model {model!r}")
    np.fill_diagonal(t, 0.0)
    np.fill_diagonal(t, 1.0 - t.sum(0))
    return t


def _logits(rng: np.random.Generator, y: np.ndarray, k: int, mu: float) -> np.ndarray:
    z = rng.normal(0.0, 1.0, (len(y), k))
    z[np.arange(len(y)), y] += mu
    for d in (1, -1):
        z[np.arange(len(y)), (y + d) % k] += 0.5 * mu
    return z


_CAL: dict[tuple[int, float], tuple[float, float]] = {}


def classifier_params(k: int, acc: float) -> tuple[float, float]:
    """``(mu, beta)``: clean accuracy ``acc`` and mean top probability ``acc`` (calibrated), by bisection."""
    if (k, acc) not in _CAL:
        y = np.random.default_rng(123).integers(0, k, 20000)
        lo, hi = 0.0, 20.0
        for _ in range(40):
            mu = (lo + hi) / 2
            a = (_logits(np.random.default_rng(1), y, k, mu).argmax(1) == y).mean()
            lo, hi = (mu, hi) if a < acc else (lo, mu)
        z0 = _logits(np.random.default_rng(1), y, k, mu)
        lo, hi = 0.05, 20.0
        for _ in range(40):
            beta = (lo + hi) / 2
            q = np.exp(beta * (z0 - z0.max(1, keepdims=True)))
            q /= q.sum(1, keepdims=True)
            lo, hi = (beta, hi) if q.max(1).mean() < acc else (lo, beta)
        _CAL[(k, acc)] = (mu, beta)
    return _CAL[(k, acc)]


def simulate(
    k: int, model: str, rate: float, quality: str, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(given labels ``[N]``, out-of-fold probabilities ``[N, K]``, flipped ``[N]``) for one grid cell."""
    rng = np.random.default_rng(seed)
    prior = class_priors(k, model == "rare")
    y = rng.choice(k, size=ITEMS[k], p=prior)
    t = noise_matrix(k, model, rate, prior)
    cum = np.cumsum(t[:, y].T, axis=1)
    given = np.minimum((rng.random(len(y))[:, None] > cum).sum(1), k - 1)
    mu, beta = classifier_params(k, QUALITY[quality])
    z = beta * _logits(rng, y, k, mu)
    p_clean = np.exp(z - z.max(1, keepdims=True))
    p_clean /= p_clean.sum(1, keepdims=True)
    return given, 0.5 * p_clean + 0.5 * (p_clean @ t.T), given != y


def run_grid(seeds: int) -> int:
    import cleanlab.filter

    from gghl.evaluation.label_quality import find_label_issues

    t0 = time.time()
    cells: dict[tuple, tuple[float, float]] = {}
    for k, quality, model, rate in itertools.product(CLASSES, QUALITY, NOISE_MODELS, RATES):
        ours, theirs = [], []
        for seed in range(seeds):
            given, p, truth = simulate(k, model, rate, quality, seed)
            ours.append(prf(find_label_issues(given, p), truth)[2])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs.append(prf(cleanlab.filter.find_label_issues(given, p, n_jobs=1), truth)[2])
        cells[(k, quality, model, rate)] = (float(np.mean(ours)), float(np.mean(theirs)))
        print(
            f"K={k:3d} {quality} {model:10s} rate={rate:.2f}: ours F1={cells[(k, quality, model, rate)][0]:.3f} "
            f"cleanlab F1={cells[(k, quality, model, rate)][1]:.3f}",
            flush=True,
        )
    print(f"\nF1 (mean of {seeds} seeds), ours / cleanlab default; * = ours behind\n")
    print("| K | classifier | noise | " + " | ".join(f"{int(r * 100)} %" for r in RATES) + " |")
    print("|---|---|---|" + "---|" * len(RATES))
    for k, quality, model in itertools.product(CLASSES, QUALITY, NOISE_MODELS):
        row = []
        for r in RATES:
            o, c = cells[(k, quality, model, r)]
            row.append(f"{o:.3f} / {c:.3f}" + (" *" if o < c - 5e-4 else ""))
        print(f"| {k} | {quality} | {model} | " + " | ".join(row) + " |")
    wins = sum(o >= c - 5e-4 for o, c in cells.values())
    mean_o, mean_c = np.mean([v[0] for v in cells.values()]), np.mean([v[1] for v in cells.values()])
    print(
        f"\nours >= cleanlab in {wins} of {len(cells)} cells; mean F1 ours {mean_o:.4f}, cleanlab {mean_c:.4f}; "
        f"{time.time() - t0:.0f}s"
    )
    return 0


# ---------------------------------------------------------------------------------------------- digits
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


def run_digits(args: argparse.Namespace) -> int:
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
        "gghl (default: posterior)": lambda y, p: find_label_issues(y, p),
        "gghl prune_by_count": lambda y, p: find_label_issues(y, p, filter_by="prune_by_count"),
        "gghl prune_by_noise_rate": lambda y, p: find_label_issues(y, p, filter_by="prune_by_noise_rate"),
        "cleanlab find_label_issues": lambda y, p: cleanlab.filter.find_label_issues(y, p, n_jobs=1),
    }
    table: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
    print(
        f"# label-error detection, digits, noise={args.noise}, probs={args.probs or args.model} "
        f"({args.folds}-fold out-of-fold)"
    )
    print(f"{'run':8s} {'method':34s} {'n_flag':>6s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'ms':>7s}")
    for name, y, p, truth in runs:
        for m, fn in methods.items():
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mask = fn(y, p)
            ms = 1e3 * (time.perf_counter() - t)
            r = prf(mask, truth)
            table[m].append(r)
            print(f"{name:8s} {m:34s} {int(mask.sum()):6d} {r[0]:6.3f} {r[1]:6.3f} {r[2]:6.3f} {ms:7.1f}")
    print("\n| method | precision | recall | F1 (mean over runs) |\n|---|---|---|---|")
    for m, rs in table.items():
        a = np.mean(rs, 0)
        print(f"| {m} | {a[0]:.3f} | {a[1]:.3f} | {a[2]:.3f} |")
    ours = np.mean([r[2] for r in table["gghl (default: posterior)"]])
    theirs = np.mean([r[2] for r in table["cleanlab find_label_issues"]])
    print(f"\nF1 gghl={ours:.4f} cleanlab={theirs:.4f} -> {'OK' if ours >= theirs else 'BELOW cleanlab'}")
    return 0 if ours >= theirs else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--grid", action="store_true", help="simulated grid (default)")
    mode.add_argument("--digits", action="store_true", help="sklearn digits with class-conditional noise")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per cell (grid: 3) or runs (digits: 5)")
    ap.add_argument("--noise", type=float, default=0.1, help="digits: class-conditional noise rate")
    ap.add_argument("--model", default="logreg", choices=["logreg", "svc", "mlp"])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument(
        "--probs", default=None, help="digits: npz from audit_labels.py instead of sklearn models"
    )
    args = ap.parse_args(argv)
    if args.digits or args.probs:
        args.seeds = args.seeds or 5
        return run_digits(args)
    return run_grid(args.seeds or 3)


if __name__ == "__main__":
    sys.exit(main())
