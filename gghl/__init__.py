"""gghl: label-assignment-first detection and classification."""

__version__ = "0.1.0"
