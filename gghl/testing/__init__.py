"""Input generators for the fuzzers (``scripts/fuzz_parsers.py``) and tests: hostile image files and
checkpoints. Never imported by the library itself."""
