from .token import codebook_ce, masked_mean

__all__ = ["codebook_ce", "masked_mean"]
