"""gghl.export."""
