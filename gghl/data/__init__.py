"""gghl.data."""
