"""The walk back from a softmax's input to the q-k product: AL401's reading of the scores.

``ScoresWalk.scores`` follows the softmax input back through assignments, masking steps
and sums to the matrix products it is made of, and records whether a scaling is met on
the way (``Walk``); ``operand`` follows q or k back to their projections (``Operand``).
A scaling counts where it can scale the product: above it, on an operand, or in the
product's own term of a sum, not in a bias term added to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from attnlint.lint.callers import callee
from attnlint.lint.flow import ScopeFlow, Step, bound_value, callee_last, scope_flow
from attnlint.lint.helpers import call_arg
from attnlint.lint.qkshapes import is_qk_einsum, unbinds_last_axis
from attnlint.lint.rule import dotted_name

_SCALING_METHODS = frozenset({"div", "div_", "mul", "mul_", "true_divide", "divide", "multiply"})
_SCALING_KEYWORDS = frozenset({"scale", "alpha", "scaling", "softmax_scale", "temperature"})
_SCALING_FUNCTIONS = frozenset({"normalize", "div", "mul", "true_divide", "divide", "multiply"})
_SCALE_NAMES = frozenset({"scale", "scaling", "temperature", "tau", "temp", "softmax_scale"})
_TRANSPOSES = frozenset({"transpose", "permute", "swapaxes", "swapdims", "t", "movedim"})
_TRANSPOSED = frozenset({"T", "mT", "H", "mH"})
PRODUCTS = frozenset({"matmul", "bmm", "einsum", "baddbmm"})


@dataclass(slots=True)
class Walk:
    """What one walk back from the softmax input found."""

    products: list[cst.CSTNode] = field(default_factory=list)
    scaled: bool = False
    # a term of a sum (``_term``): walked on below a scaling, to see whether
    # the product is under it
    through: bool = False
    # a q-k product was found with a scaled operand (``q * s @ k.T``): unlike a scaling
    # met above the product, this one is known to scale the product
    scaled_product: bool = False
    roots: set[str] = field(default_factory=set)  # where the products' operands came from
    # calls of another module's helper on the way (``similarity(q, k)``): the product may
    # be theirs, decided by the project index
    remote: list[cst.Call] = field(default_factory=list)
    level: int = 0  # helpers entered on the way (``pair_logits`` -> ``qk_product``)


# A helper's own walk is short: its return is (near) the product (the depth the caller's
# walk starts from is 10); helpers calling helpers are followed three calls deep, the
# project index's bound.
_HELPER_DEPTH = 4
_HELPER_LEVELS = 3


class ScoresWalk:
    """The walks of one module; ``qualname`` resolves a name through its imports."""

    def __init__(
        self,
        qualname: Callable[[cst.CSTNode], str | None],
        module: cst.Module,
        remote: Callable[[cst.Call], bool] | None = None,
    ) -> None:
        self.qualname = qualname
        self.module = module
        self.remote = remote  # a call of another module's function
        self.klass: str | None = None  # the class of the scope being walked (``self.f()``)

    def _helper(self, call: cst.Call) -> cst.FunctionDef | None:
        """The function of this module a call calls: a module-level one by its plain name,
        a method of the walked scope's class through ``self.``."""
        return callee(self.module, call, self.klass)

    def _helper_product(
        self, flow: ScopeFlow, call: cst.Call, function: cst.FunctionDef, at: int, walk: Walk
    ) -> None:
        """``similarity(q, k).softmax(-1)`` with ``def similarity(q, k): return
        torch.einsum(..., q, k)``: the helper's product is this call's, scaled if the helper
        scales it or the call scales what it passes."""
        returned = self.returned(function, walk.level + 1)
        if not returned.products and not returned.scaled_product:
            return
        if returned.scaled or returned.scaled_product:
            walk.scaled = walk.scaled_product = True
            return
        for arg in call.args:
            side = Operand()
            if not arg.star:
                self.operand(flow, arg.value, at, side, _HELPER_DEPTH)
            if side.scaled:
                walk.scaled = walk.scaled_product = True
                return
            walk.roots |= side.roots
        walk.products.append(call)

    def returned(self, function: cst.FunctionDef, level: int = 1) -> Walk:
        """What ``function`` returns, walked as a helper's: its q-k products and scaling."""
        inner = scope_flow(function)
        returned = Walk(through=True, level=level)
        for step in inner.steps:
            if isinstance(step.node, cst.Return) and step.value is not None:
                self.scores(inner, step.value, step.index, returned, _HELPER_DEPTH)
        return returned

    def scores(
        self, flow: ScopeFlow, expr: cst.BaseExpression, at: int, walk: Walk, depth: int
    ) -> None:
        """Walk the values that make up the softmax input down to the q-k product."""
        if depth <= 0 or (walk.scaled and not walk.through):
            return
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, cst.Multiply | cst.Divide):
                walk.scaled = True
                if walk.through:
                    self.scores(flow, expr.left, at, walk, depth - 1)
                    self.scores(flow, expr.right, at, walk, depth - 1)
                return
            if isinstance(expr.operator, cst.MatrixMultiply):
                self._product(flow, expr, expr.left, expr.right, at, walk, depth)
                return
            if isinstance(expr.operator, cst.Add | cst.Subtract):
                self._term(flow, expr.left, at, walk, depth - 1)
                self._term(flow, expr.right, at, walk, depth - 1)
                return
            self.scores(flow, expr.left, at, walk, depth - 1)
            self.scores(flow, expr.right, at, walk, depth - 1)
        elif isinstance(expr, cst.Call):
            last = callee_last(expr)
            if _scaling_call(expr) or any(
                arg.keyword is not None and arg.keyword.value in _SCALING_KEYWORDS
                for arg in expr.args
            ):
                walk.scaled = True
                if walk.through and isinstance(expr.func, cst.Attribute):
                    self.scores(flow, expr.func.value, at, walk, depth - 1)  # s.div(d)
                return
            if last in PRODUCTS:
                self._call_product(flow, expr, at, walk, depth)
                return
            follow = depth > _HELPER_DEPTH or (walk.level and walk.level < _HELPER_LEVELS)
            helper = self._helper(expr) if follow else None
            if helper is not None:
                self._helper_product(flow, expr, helper, at, walk)
                return
            if self.remote is not None and depth > _HELPER_DEPTH and self.remote(expr):
                # and on into its arguments: a product passed to a masking helper
                walk.remote.append(expr)
            if isinstance(expr.func, cst.Attribute) and not self._is_module(expr.func.value):
                self.scores(flow, expr.func.value, at, walk, depth - 1)  # scores.masked_fill()
            else:
                for arg in expr.args:  # torch.where(mask, scores, fill)
                    self.scores(flow, arg.value, at, walk, depth - 1)
        elif isinstance(expr, cst.UnaryOperation):
            self.scores(flow, expr.expression, at, walk, depth - 1)
        elif isinstance(expr, cst.IfExp):
            self.scores(flow, expr.body, at, walk, depth - 1)
            self.scores(flow, expr.orelse, at, walk, depth - 1)
        elif isinstance(expr, cst.Name):
            for step in flow.definitions(expr.value, at):
                node = step.node
                if _scaled_in_place(step, expr.value):
                    walk.scaled = True
                    if not walk.through:
                        return
                    continue
                if isinstance(node, cst.AugAssign):
                    if isinstance(node.operator, cst.AddAssign | cst.SubtractAssign):
                        self._term(flow, node.value, step.index, walk, depth - 1)
                    else:
                        self.scores(flow, node.value, step.index, walk, depth - 1)
                elif expr.value not in step.binds:
                    continue  # scores.masked_fill_(...): same value, still on the way
                elif step.value is not None and not isinstance(node, cst.For | cst.WithItem):
                    value = bound_value(step, expr.value)
                    if value is not None:
                        self.scores(flow, value, step.index, walk, depth - 1)

    def _term(
        self, flow: ScopeFlow, expr: cst.BaseExpression, at: int, walk: Walk, depth: int
    ) -> None:
        """One term of a sum on the way to the softmax. A multiplication scales the q-k
        product only in the term that holds it: in a bias term (``inf * (mask - 1)``,
        ``rel_bias * gate``) it scales the bias. The term's walk goes on below a
        multiplication: a product found there is a scaled one."""
        term = Walk(through=True, level=walk.level)
        self.scores(flow, expr, at, term, depth)
        walk.products += term.products
        walk.roots |= term.roots
        if term.scaled and (term.products or term.scaled_product):
            walk.scaled = walk.scaled_product = True

    def _is_module(self, expr: cst.BaseExpression) -> bool:
        qualname = self.qualname(expr) or ""
        return qualname.split(".", 1)[0] in ("torch", "numpy", "math")

    def _call_product(
        self, flow: ScopeFlow, call: cst.Call, at: int, walk: Walk, depth: int
    ) -> None:
        last = callee_last(call)
        operands = [arg.value for arg in call.args if arg.keyword is None and not arg.star]
        if isinstance(call.func, cst.Attribute) and last != "einsum":
            qualname = self.qualname(call.func) or ""
            if not qualname.startswith("torch."):  # q.matmul(k.mT)
                operands = [call.func.value, *operands]
        if last == "baddbmm":
            operands = operands[1:]
        if last == "einsum":
            if len(operands) == 3 and is_qk_einsum(operands[0]):
                self._product(flow, call, operands[1], operands[2], at, walk, depth, True)
            return
        if len(operands) >= 2:
            self._product(flow, call, operands[0], operands[1], at, walk, depth)

    def _product(
        self,
        flow: ScopeFlow,
        node: cst.CSTNode,
        q: cst.BaseExpression,
        k: cst.BaseExpression,
        at: int,
        walk: Walk,
        depth: int,
        transposed: bool = False,
    ) -> None:
        """A matrix product on the way: a q-k product when k is transposed (or the einsum
        contracts the last axis of both), and not a product with a parameter matrix (a
        classifier's ``h @ self.weight.T``)."""
        found: list[Operand] = []
        for expr in (k, q):
            side = Operand()
            self.operand(flow, expr, at, side, depth)
            if side.scaled:
                walk.scaled = walk.scaled_product = True
                return
            if side.parameter or side.scalar:
                return
            found.append(side)
        operand, other = found
        # torch.bmm(q, k) with k laid out [B, C, N] by view and q permuted to [B, N, C]
        # (self-attention GANs): no transpose on k, but two layouts of one input
        same_input = other.transposed and bool(operand.roots & other.roots - {"self"})
        if transposed or operand.transposed or same_input:
            walk.products.append(node)
            walk.roots |= operand.roots | other.roots

    def operand(
        self, flow: ScopeFlow, expr: cst.BaseExpression, at: int, found: Operand, depth: int
    ) -> None:
        """Walk q or k back through receivers and assignments (not through shape
        arguments: ``view(B, T, C // H)`` is not a scaling)."""
        if depth <= 0 or found.scaled:
            return
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, cst.Multiply | cst.Divide):
                found.scaled = True
                return
            self.operand(flow, expr.left, at, found, depth - 1)
            self.operand(flow, expr.right, at, found, depth - 1)
        elif isinstance(expr, cst.Attribute):
            if expr.attr.value in _TRANSPOSED:
                found.transposed = True
            elif expr.attr.value == "weight" or _is_self_attribute(expr):
                found.parameter = True
                return
            self.operand(flow, expr.value, at, found, depth - 1)
        elif isinstance(expr, cst.Call):
            last = callee_last(expr)
            if _scaling_call(expr) or last in _SCALING_FUNCTIONS:
                found.scaled = True
                return
            if last in _TRANSPOSES:
                found.transposed = True
            if _is_self_attribute(expr.func) and last not in _TRANSPOSES:
                if expr.args:  # self.q_proj(x): a projection; only its input's origin matters
                    inner = Operand()
                    self.operand(flow, expr.args[0].value, at, inner, depth - 1)
                    found.roots |= inner.roots
                    arg = expr.args[0].value  # self._shape(q * s, ...): scaled as it goes in
                    found.scaled = isinstance(arg, cst.BinaryOperation) and isinstance(
                        arg.operator, cst.Multiply | cst.Divide
                    )
            elif isinstance(expr.func, cst.Attribute) and not self._is_module(expr.func.value):
                if not _is_self_attribute(expr.func.value):
                    self.operand(flow, expr.func.value, at, found, depth - 1)
                else:
                    found.parameter = True  # self.key.transpose(0, 1): a learned matrix
            else:
                first = call_arg(expr, "input", 0)
                if first is not None:
                    self.operand(flow, first.value, at, found, depth - 1)
        elif isinstance(expr, cst.Subscript):
            self.operand(flow, expr.value, at, found, depth - 1)
        elif isinstance(expr, cst.Name):
            for step in flow.definitions(expr.value, at):
                node = step.node
                if _scaled_in_place(step, expr.value):
                    found.scaled = True
                    return
                if isinstance(node, cst.AugAssign) or expr.value not in step.binds:
                    continue
                value = bound_value(step, expr.value)
                if value is not None and not isinstance(node, cst.For | cst.WithItem):
                    if isinstance(node, cst.Assign) and unbinds_last_axis(value):
                        found.scalar = True  # q, k, v = qkv.unbind(-1): one number each
                    self.operand(flow, value, step.index, found, depth - 1)
            if not flow.definitions(expr.value, at):
                found.roots.add(expr.value)


@dataclass(slots=True)
class Operand:
    scaled: bool = False
    transposed: bool = False
    parameter: bool = False
    scalar: bool = False  # no feature axis: d = 1, nothing to scale by
    roots: set[str] = field(default_factory=set)  # the inputs it was computed from


def _scaling_call(call: cst.Call) -> bool:
    """``x.div(d)``, ``ff.mul_scalar(q, scaling)``, ``self.rescale(q)``,
    ``apply(q, self.temperature)``: a call that scales, by its name or an argument's."""
    last = callee_last(call).lower()
    if last in _SCALING_METHODS or last.startswith(("mul", "div")) or "scal" in last:
        return True
    for arg in call.args:
        tokens = set((dotted_name(arg.value) or "").lower().replace(".", "_").split("_"))
        if tokens & _SCALE_NAMES:
            return True
    return False


def _scaled_in_place(step: Step, name: str) -> bool:
    """``name *= s``, ``name /= s``, ``name.div_(s)``, ``name.mul_(s)``."""
    node = step.node
    if isinstance(node, cst.AugAssign):
        return name in step.binds and isinstance(
            node.operator, cst.MultiplyAssign | cst.DivideAssign
        )
    return name in step.mutates and any(
        isinstance(call.func, cst.Attribute)
        and isinstance(call.func.value, cst.Name)
        and call.func.value.value == name
        and call.func.attr.value in _SCALING_METHODS
        for call in step.calls
    )


def _is_self_attribute(expr: cst.BaseExpression) -> bool:
    """``self.w`` / ``self.attn.key``: an attribute chain on ``self`` (a parameter or a
    submodule), not a computed tensor."""
    if not isinstance(expr, cst.Attribute):
        return False
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, cst.Name) and expr.value == "self"
