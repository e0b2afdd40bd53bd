"""gghl.cli."""
