"""Where a value ends up: whether scores computed at one step reach the loss."""

from __future__ import annotations

import libcst as cst

from attnlint.lint.flow import ScopeFlow, Step, read_names
from attnlint.lint.vocab import callee_last, contains, is_loss_call
from attnlint.lint.walk import children

# Objects whose ``.backward(loss)`` differentiates its argument (Accelerate, Fabric,
# DeepSpeed engines, ``torch.autograd``, fairseq's optimizers); a tensor's
# ``.backward(gradient)`` does not.
_BACKWARD_OWNERS = frozenset(
    {"accelerator", "fabric", "engine", "model_engine", "autograd", "optimizer"}
)


def is_backward(call: cst.Call) -> bool:
    """``x.backward()`` or ``scaler.scale(x)``: the value is what gets differentiated."""
    return backward_value(call) is not None


def backward_value(call: cst.Call) -> cst.BaseExpression | None:
    """What ``call`` differentiates: the receiver of ``loss.backward()``, the argument of
    ``scaler.scale(loss)``' receiver chain, of ``accelerator.backward(loss)`` /
    ``fabric.backward(loss)`` / ``self.manual_backward(loss)``; None for other calls."""
    func = call.func
    if not isinstance(func, cst.Attribute):
        return None
    name = func.attr.value
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if name == "manual_backward" and positional:
        return positional[0]
    if name == "backward" and positional:
        owner = func.value
        last = owner.attr.value if isinstance(owner, cst.Attribute) else None
        last = owner.value if isinstance(owner, cst.Name) else last
        if last is not None and last.lower() in _BACKWARD_OWNERS:
            return positional[0]
    if name in ("backward", "scale"):
        return func.value
    return None


def feeds_loss(
    flow: ScopeFlow,
    step: Step,
    node: cst.CSTNode,
    names: set[str],
    loss_scope: bool,
    module: cst.Module | None = None,
) -> bool:
    """Whether the value of ``node`` (computed at ``step``; bound to ``names`` after it)
    reaches a loss: an argument of a loss call, the receiver of ``.backward()`` or
    ``scaler.scale()``, the return value of a loss function, or (given the ``module``) an
    argument a function of the module differentiates (``backwards.hands_to_backward``)."""
    for call in step.calls:
        if call is node or not contains(call, node):
            continue
        if is_loss_call(call) and any(contains(arg, node) for arg in call.args):
            return True
        differentiated = backward_value(call)
        if differentiated is not None and contains(differentiated, node):
            return True
    if loss_scope and isinstance(step.node, cst.Return):
        return True
    for later, used in flow.forward(names, step.index):
        for call in later.calls:
            if is_loss_call(call) and any(read_names(arg.value) & used for arg in call.args):
                return True
            differentiated = backward_value(call)
            if differentiated is not None and read_names(differentiated) & used:
                return True
            if module is not None and _hands_to_backward(module, call, used):
                return True
        if loss_scope and isinstance(later.node, cst.Return):
            return True
    return False


# -- what a step does with a value ----------------------------------------------------

_SHAPE_ATTRIBUTES = frozenset({"shape", "dtype", "device", "ndim", "is_cuda", "requires_grad"})
_SHAPE_METHODS = frozenset({"size", "dim", "numel", "type", "get_device"})


def value_reads(step: Step) -> set[str]:
    """Names whose values ``step`` reads (see ``value_names``)."""
    roots: list[cst.CSTNode] = [step.value] if step.value is not None else []
    if isinstance(step.node, cst.Assign):
        roots += [t.target for t in step.node.targets if not isinstance(t.target, cst.Name)]
    return value_names(*roots)


def value_names(*roots: cst.CSTNode) -> set[str]:
    """Names whose *values* these expressions read: ``attn.shape``, ``attn.size(-1)``,
    ``len(attn)``, ``torch.zeros_like(attn)`` read none (a NaN does not travel through a
    shape)."""
    found: set[str] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            found.add(node.value)
        elif isinstance(node, cst.Attribute):
            if node.attr.value not in _SHAPE_ATTRIBUTES:
                stack.append(node.value)
        elif (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Name)
            and (node.func.value in ("len", "isinstance"))
        ) or (isinstance(node, cst.Call) and callee_last(node).endswith("_like")):
            continue
        elif (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in _SHAPE_METHODS
        ):
            stack.extend(arg.value for arg in node.args)
        elif isinstance(node, cst.Arg):
            stack.append(node.value)
        else:
            stack.extend(children(node))
    return found


def is_sink(step: Step) -> bool:
    """A step that hands a value on: returned, yielded, stored on an object or in a
    container, or passed to a call whose result is dropped."""
    node = step.node
    if isinstance(node, cst.Return | cst.Expr):
        return True
    if isinstance(node, cst.Assign | cst.AugAssign | cst.AnnAssign):
        targets = (
            [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        )
        return any(not isinstance(t, cst.Name | cst.Tuple | cst.List) for t in targets)
    return False


def _hands_to_backward(module: cst.Module, call: cst.Call, used: set[str]) -> bool:
    from attnlint.lint.backwards import hands_to_backward  # it builds on this module

    return hands_to_backward(module, call, used)
