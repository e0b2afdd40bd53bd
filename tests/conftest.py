"""Shared pytest setup: tests run on CPU, small and deterministic."""

import os

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HYDRA_FULL_ERROR", "1")
