"""Runtime half: model -> sites -> stats -> checks -> report. Never imports libcst.

Exports are resolved lazily so that ``attnlint.guard.config`` (torch-free) can be read by
the CLI without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attnlint.guard.config import GuardConfig
from attnlint.records import AttentionStats, StepReport, Violation

if TYPE_CHECKING:
    from attnlint.guard.core import AttentionGuard, GuardError, GuardWarning
    from attnlint.guard.selftest import SelfTestResult, selftest_listwise_loss

__all__ = [
    "AttentionGuard",
    "AttentionStats",
    "GuardConfig",
    "GuardError",
    "GuardWarning",
    "SelfTestResult",
    "StepReport",
    "Violation",
    "selftest_listwise_loss",
]

_LAZY = {
    "AttentionGuard": "attnlint.guard.core",
    "GuardError": "attnlint.guard.core",
    "GuardWarning": "attnlint.guard.core",
    "SelfTestResult": "attnlint.guard.selftest",
    "selftest_listwise_loss": "attnlint.guard.selftest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'attnlint.guard' has no attribute {name!r}")
