"""AL102 hardcoded-clip-norm: gradient clipping with a literal max norm or clip value."""

from __future__ import annotations

import libcst as cst

from attnlint.lint.helpers import call_arg
from attnlint.lint.literals import LiteralArgRule, LiteralOptions
from attnlint.lint.names import CLIP_ARGUMENTS, CLIP_FUNCTIONS, LrParam


class HardcodedClipNormOptions(LiteralOptions):
    pass


def method_clip_params(call: cst.Call) -> tuple[str, tuple[LrParam, ...]] | None:
    """The clipping arguments of a clipping *method* (receivers are not resolved).

    ``accelerator.clip_grad_norm_(params, max_norm)`` (Accelerate),
    ``model.clip_grad_norm_(max_norm)`` (FSDP: the norm comes first),
    ``fabric.clip_gradients(module, optimizer, clip_val, max_norm)`` (Fabric),
    ``self.clip_gradients(optimizer, gradient_clip_val)`` (a LightningModule).
    """
    func = call.func
    if not isinstance(func, cst.Attribute):
        return None
    method = func.attr.value
    receiver = func.value
    receiver_name = receiver.attr.value if isinstance(receiver, cst.Attribute) else None
    if isinstance(receiver, cst.Name):
        receiver_name = receiver.value
    if method in ("clip_grad_norm_", "clip_grad_value_"):
        keyword = "max_norm" if method == "clip_grad_norm_" else "clip_value"
        position = 1
        if "accelerator" not in (receiver_name or "").lower():
            first = call_arg(call, None, 0)
            # FSDP's method takes the norm first: ``model.clip_grad_norm_(1.0)``.
            if first is not None and call_arg(call, None, 1) is None:
                position = 0
        return f"{receiver_name or '...'}.{method}", (LrParam(keyword, position),)
    if method == "clip_gradients":
        if isinstance(receiver, cst.Name) and receiver.value == "self":
            return "self.clip_gradients", (LrParam("gradient_clip_val", 1),)
        return f"{receiver_name or '...'}.clip_gradients", (
            LrParam("clip_val", 2),
            LrParam("max_norm", 3),
        )
    return None


class HardcodedClipNorm(LiteralArgRule):
    code = "AL102"
    name = "hardcoded-clip-norm"
    summary = "gradient clipping with a literal max norm"
    triggers = ("clip_grad", "clip_gradients", "gradient_clip_val", "max_grad_norm")
    Options = HardcodedClipNormOptions
    advice = "read it from configuration so the threshold can be swept and is recorded with the run"

    def visit_Call(self, node: cst.Call) -> None:
        if self.skip_file:
            return
        qualname = self.context.qualname(node.func)
        params = None
        if qualname is not None:
            params = CLIP_FUNCTIONS.get(qualname) or CLIP_ARGUMENTS.get(qualname)
        if params is None:
            found = method_clip_params(node)
            if found is None:
                return
            qualname, params = found
        for param in params:
            arg = call_arg(node, param.keyword, param.position)
            if arg is None:
                continue
            where = "" if arg.keyword is not None else " (positional)"
            self.check_value(
                arg.value, f"{param.keyword}={{value}}{where} hard-coded in {qualname}"
            )
