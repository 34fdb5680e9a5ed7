"""What both callbacks share. Imports neither framework."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def require(module: str, pip_name: str, what: str) -> Any:
    """Import ``module`` or fail with one line saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{what} needs the '{pip_name}' package: pip install {pip_name}") from exc


def loss_of(outputs: Any) -> Any:
    """The loss inside a step's outputs (a tensor, a mapping with "loss", or an object with
    ``.loss``), detached; None when there is none."""
    loss = None
    if outputs is None:
        return None
    if hasattr(outputs, "detach"):
        loss = outputs
    elif hasattr(outputs, "get") and outputs.get("loss") is not None:
        loss = outputs.get("loss")
    elif getattr(outputs, "loss", None) is not None:
        loss = outputs.loss
    if loss is not None and hasattr(loss, "detach"):
        loss = loss.detach()
    return loss


class TrainerOutput:
    """A guard output that hands each report's scalars (``attnlint/<site>/<stat>``, see
    ``attnlint.guard.trackers``) to a framework's logging function."""

    def __init__(self, log: Callable[[dict[str, float]], None]) -> None:
        from attnlint.guard.trackers import Scalars

        self.log = log
        self.scalars = Scalars()

    def write(self, report: Any) -> None:
        self.log(self.scalars(report))

    def close(self) -> None:
        pass
