"""gghl.models."""
