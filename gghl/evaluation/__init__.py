"""gghl.evaluation."""
