"""Installing and removing observation: hooks, instance ``forward`` wrappers, interception.

Everything installed here is recorded in an ``Installed`` ledger so that ``close()`` puts
the model back exactly as it was: hook handles are removed, wrapped ``forward`` attributes
are deleted (or the user's own instance attribute restored).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle

SOFTMAX_FUNCS = (torch.softmax, F.softmax, torch.special.softmax, Tensor.softmax)
_TORCH_DIR = __import__("os").path.dirname(torch.__file__)
_MISSING = object()


@dataclass
class Installed:
    handles: list[RemovableHandle] = field(default_factory=list)
    wrapped: list[tuple[nn.Module, Any]] = field(default_factory=list)  # (module, old attr)

    def wrap_forward(
        self, module: nn.Module, around: Callable[[Callable[..., Any], tuple, dict], Any]
    ) -> None:
        """Replace ``module.forward`` on the instance by ``around(original, args, kwargs)``."""
        previous = module.__dict__.get("forward", _MISSING)
        original = module.forward

        @functools.wraps(original)
        def forward(*args: Any, **kwargs: Any) -> Any:
            return around(original, args, kwargs)

        module.forward = forward  # type: ignore[method-assign]
        self.wrapped.append((module, previous))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        for module, previous in reversed(self.wrapped):
            if previous is _MISSING:
                module.__dict__.pop("forward", None)
            else:
                module.forward = previous  # type: ignore[method-assign]
        self.handles.clear()
        self.wrapped.clear()


@functools.cache
def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)


def bind(fn: Callable[..., Any], args: tuple, kwargs: dict) -> dict[str, Any]:
    """Arguments of a call by parameter name, defaults filled in."""
    bound = _signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def caller_module(ids: dict[int, str]) -> str | None:
    """Path of the innermost known module whose code is on the stack (skipping torch's own
    frames): ``self`` in a method, or ``module`` in a function such as Hugging Face's
    ``eager_attention_forward(module, ...)``."""
    frame = sys._getframe(2)
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_TORCH_DIR):
            loc = frame.f_locals
            for name in ("self", "module"):
                obj = loc.get(name)
                if obj is not None and id(obj) in ids:
                    return ids[id(obj)]
        frame = frame.f_back
    return None


class Pausable(Protocol):
    intercept_paused: bool


class Interceptor(TorchFunctionMode):
    """Sees softmax / SDPA calls made from user code while a scope runs on a sampled step.

    Every other call passes straight through: ``func(*args, **kwargs)`` is the same op the
    model would have run, so results are bit-identical. A mode sees only the outermost
    torch call (``F.multi_head_attention_forward``, never the softmax inside it), which is
    why stock attention modules are observed with hooks instead. ``state.intercept_paused``
    is set while the guard computes, so its own softmax calls are not intercepted.
    """

    def __init__(self, on_call: Callable[[Any, tuple, dict, Any], None], state: Pausable) -> None:
        super().__init__()
        self._on_call = on_call
        self._state = state

    def __torch_function__(
        self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        state = self._state
        if not state.intercept_paused and (
            func in SOFTMAX_FUNCS or func is F.scaled_dot_product_attention
        ):
            state.intercept_paused = True
            try:
                self._on_call(func, args, kwargs, out)
            finally:
                state.intercept_paused = False
        return out
