"""Installing and removing observation: hooks, instance ``forward`` wrappers, interception.

Everything installed here is recorded in an ``Installed`` ledger so that ``close()`` puts
the model back exactly as it was: hook handles are removed, wrapped ``forward`` attributes
are deleted (or the user's own instance attribute restored).
"""

from __future__ import annotations

import copy
import functools
import inspect
import sys
import types
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


class Forward:
    """An instance-level ``forward``: ``around(original, args, kwargs)``.

    The guard observes the module it was given, not its copies: a ``copy.deepcopy`` of the
    module (an EMA copy, say) or a pickle of it (``torch.save(model)``) gets the module's
    own ``forward`` back, bound to the copy. A plain closure here would be shared by the
    copy and run the original module's forward, with the original's weights.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Forward:
        # A class, and a ``__call__`` code object, of each wrapper's own: dynamo keeps
        # compiled code per code object, with one recompile limit for all of it. Shared by
        # every wrapper, a process that compiles several guarded models (folds, a sweep)
        # would reach the limit and run the later ones eagerly.
        if cls is not Forward:
            return super().__new__(cls)
        call = Forward.__call__
        own = types.FunctionType(
            call.__code__.replace(), call.__globals__, call.__name__, call.__defaults__
        )
        own.__qualname__ = call.__qualname__
        return super().__new__(type("Forward", (Forward,), {"__call__": own}))

    def __init__(
        self,
        module: nn.Module,
        around: Callable[[Callable[..., Any], tuple, dict], Any],
        previous: Any,
    ) -> None:
        original = module.forward
        # name, doc and ``__wrapped__`` (what inspect.signature reads), not the original's
        # ``__dict__``: that of a wrapper underneath would overwrite this one's fields
        functools.update_wrapper(self, original, updated=())
        self.module = module
        self.around = around
        self.previous = previous  # the instance attribute it replaced, or _MISSING
        self.original = original

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.around(self.original, args, kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        twin = memo.get(id(self.module))
        if twin is None:  # the wrapper copied on its own, not as part of its module
            return self
        return _unobserved(twin, self.previous, memo)

    def __reduce__(self) -> tuple[Any, tuple]:
        # a wrapper it replaced unpickles as that module's own forward in turn
        previous = None if self.previous is _MISSING else self.previous
        return _forward_of, (self.module, previous)


def _unobserved(twin: nn.Module, previous: Any, memo: dict[int, Any]) -> Any:
    if isinstance(previous, Forward):
        return previous.__deepcopy__(memo)
    if previous is _MISSING:
        return types.MethodType(type(twin).forward, twin)
    return copy.deepcopy(previous, memo)


def _forward_of(module: nn.Module, previous: Any) -> Any:
    """Unpickling a module's forward: the module's own, unobserved."""
    if previous is None:
        return types.MethodType(type(module).forward, module)
    return previous


@dataclass
class Installed:
    handles: list[RemovableHandle] = field(default_factory=list)
    wrapped: list[tuple[nn.Module, Any]] = field(default_factory=list)  # (module, old attr)

    def wrap_forward(
        self, module: nn.Module, around: Callable[[Callable[..., Any], tuple, dict], Any]
    ) -> None:
        """Replace ``module.forward`` on the instance by ``around(original, args, kwargs)``."""
        previous = module.__dict__.get("forward", _MISSING)
        module.forward = Forward(module, around, previous)  # type: ignore[method-assign]
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
