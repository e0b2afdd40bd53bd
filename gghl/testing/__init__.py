"""Generators and oracles for tests, fuzzers and benchmarks; never imported by the library itself (an
import-linter contract in ``pyproject.toml`` enforces it), so they may use dev-only dependencies.

- ``checkpoint_fuzz``, ``image_fuzz``: hostile checkpoints and image files (``scripts/fuzz_parsers.py``).
- ``dota_reference``: the DOTA devkit's ``voc_eval`` loop re-implemented (the oracle of the vectorised
  evaluator and the baseline of ``scripts/bench_eval.py``); needs ``shapely``.
- ``gaussian_scenes``: random dense GGHL scenes for the assigner tests and ``scripts/bench_assign.py``.
- ``detection_label_noise``: known label errors injected into a detection set, to measure a label audit
  (``scripts/bench_detection_label_quality.py``).
"""
