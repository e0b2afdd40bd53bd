"""gghl.tasks."""
