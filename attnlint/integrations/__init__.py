"""Training-framework integrations of the guard. Each submodule imports its framework;
this package imports none, so ``import attnlint.integrations`` is always cheap.

- ``attnlint.integrations.lightning``: ``AttentionGuardCallback`` (``pip install lightning``)
- ``attnlint.integrations.hf``: ``AttentionGuardTrainerCallback`` (``pip install transformers``)
"""
