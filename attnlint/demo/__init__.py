"""The reference DeepSetRank, a correct ListMLE, synthetic ranking data and the demo loop.

Needs torch (the ``runtime`` extra). ``attnlint demo`` imports this package lazily.
"""
