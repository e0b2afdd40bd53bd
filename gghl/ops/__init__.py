"""gghl.ops."""
