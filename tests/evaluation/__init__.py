"""Evaluation tests (a package, so module names cannot clash with tests in other folders)."""
