"""attnlint: catch the causes of a collapsing attention model, before and during the run."""

__version__ = "0.1.0"
