"""AL104 clip-before-unscale: clipping gradients that a GradScaler has not unscaled yet."""

from __future__ import annotations

import libcst as cst

from attnlint.lint.diagnostic import Edit, Fix
from attnlint.lint.flow import ScopedRule, ScopeFlow, Step, callee_last
from attnlint.lint.rule import dotted_name

_CLIPS = frozenset({"clip_grad_norm_", "clip_grad_value_"})


class ClipBeforeUnscale(ScopedRule):
    code = "AL104"
    name = "clip-before-unscale"
    summary = "gradient clipping under a GradScaler without scaler.unscale_(optimizer) first"
    # Only torch's own clip functions can fire (accelerate/Lightning unscale for you).
    triggers = ("clip_grad",)

    def visit_Call(self, node: cst.Call) -> None:
        qualname = self.context.qualname(node.func) or ""
        # by the resolved name: ``from torch.nn.utils import clip_grad_norm_ as clip``
        if qualname.startswith("torch.") and qualname.rsplit(".", 1)[-1] in _CLIPS:
            self.candidate(node)

    def analyse(self, flow: ScopeFlow, nodes: list[cst.CSTNode], class_name: str | None) -> None:
        scalers, optimizers, unscales = self._scaler_use(flow)
        if not scalers:
            return
        placed = _placements(flow, nodes)
        for clip in nodes:
            assert isinstance(clip, cst.Call)
            step = flow.step_of(clip)
            if step is None or any(index < step.index for index in unscales):
                continue
            fix = None
            anchor = _anchor(step)
            if (
                step.index in placed
                and not unscales
                and anchor is not None
                and len(scalers) == 1
                and len(optimizers) == 1
                and _between_backward_and_step(flow, step, scalers[0])
            ):
                fix = Fix(
                    f"call {scalers[0]}.unscale_({optimizers[0]}) before clipping",
                    (Edit(anchor, f"{scalers[0]}.unscale_({optimizers[0]})", "insert_before"),),
                )
            self.report(
                clip,
                "gradients are clipped while still multiplied by the GradScaler's scale "
                "(2**16 by default): the threshold is effectively divided by the scale and "
                f"every step is clipped; call {scalers[0]}.unscale_(optimizer) before clipping",
                fix=fix,
            )

    @staticmethod
    def _scaler_use(flow: ScopeFlow) -> tuple[list[str], list[str], list[int]]:
        """Scaler names (receivers of ``.scale(loss).backward()`` / ``scaler.step(opt)``,
        names bound to a ``GradScaler(...)``), the optimizers passed to ``scaler.step``,
        and the steps that call ``.unscale_``."""
        scalers: list[str] = []
        optimizers: list[str] = []
        unscales: list[int] = []

        def add(items: list[str], name: str | None) -> None:
            if name is not None and name not in items:
                items.append(name)

        for step in flow.steps:
            for call in step.calls:
                func = call.func
                last = callee_last(call)
                if last == "GradScaler":
                    for name in sorted(step.binds):
                        add(scalers, name)
                    _attribute_target(step, scalers)
                if not isinstance(func, cst.Attribute):
                    continue
                receiver = dotted_name(func.value)
                if receiver is None:
                    continue
                if last == "unscale_":
                    unscales.append(step.index)
                elif last == "scale" and _backward_of(step, call):
                    add(scalers, receiver)
                elif last == "step" and "scaler" in receiver.lower():
                    add(scalers, receiver)
                    if len(call.args) == 1 and call.args[0].keyword is None:
                        add(optimizers, dotted_name(call.args[0].value))
        return scalers, optimizers, unscales


def _placements(flow: ScopeFlow, clips: list[cst.CSTNode]) -> set[int]:
    """The steps whose clip may take an ``unscale_``: a second one in the same step raises,
    so either the first clip alone, when it runs whenever any other does, or every clip,
    when each sits in its own branch of one ``if`` / ``elif`` / ``else`` chain."""
    steps = [s for s in (flow.step_of(c) for c in clips if isinstance(c, cst.Call)) if s]
    if not steps:
        return set()
    if all(steps[0].encloses(other) for other in steps):
        return {steps[0].index}
    if all(_exclusive(flow, a, b) for i, a in enumerate(steps) for b in steps[i + 1 :]):
        return {step.index for step in steps}
    return set()


def _exclusive(flow: ScopeFlow, a: Step, b: Step) -> bool:
    """``a`` and ``b`` sit in different branches of one ``if`` chain: at most one runs."""
    for x, y in zip(a.blocks, b.blocks, strict=False):
        if x is y:
            continue
        for step in flow.steps:
            node = step.node
            if isinstance(node, cst.If):
                other = node.orelse
                branches = (node.body, other if isinstance(other, cst.If) else other and other.body)
                if any(x is n for n in branches) and any(y is n for n in branches):
                    return True
        return False
    return False


def _anchor(step: Step) -> cst.CSTNode | None:
    """What the unscale_ goes in front of: the clip's own small statement (the fixer puts
    it on a line of its own, or after the ``;`` / ``:`` before it), or the header of the
    ``if`` / ``with`` / ``for`` that clips. Not a ``while`` test (evaluated on every
    turn) nor an ``elif`` test (nothing can go between it and its ``if``)."""
    if isinstance(step.node, cst.BaseSmallStatement):
        return step.node
    if isinstance(step.node, cst.If):
        elif_test = bool(step.blocks) and step.blocks[-1] is step.node
        return None if elif_test else step.statement
    if isinstance(step.statement, cst.With | cst.For):  # a with-item, a for's iterable
        return step.statement
    return None


def _between_backward_and_step(flow: ScopeFlow, clip: Step, scaler: str) -> bool:
    """The clip runs after the scaled backward and before ``scaler.step``, with neither
    another backward nor a step or update in between, and in the same loop as the step:
    only there does an ``unscale_`` just before it run once, on finished gradients, and
    before the step (after ``step`` or twice per ``update``, unscale_ raises)."""
    backward: list[int] = []
    stepped: list[int] = []
    for step in flow.steps:
        for call in step.calls:
            func = call.func
            if not isinstance(func, cst.Attribute) or dotted_name(func.value) != scaler:
                continue
            if func.attr.value == "scale" and _backward_of(step, call):
                backward.append(step.index)
            elif func.attr.value in ("step", "update"):
                stepped.append(step.index)
    after = [i for i in stepped if i > clip.index]
    if not after:
        return False
    step = flow.steps[after[0]]
    if not _is_step(step, scaler):
        return False  # an update() with no step() between the clip and it
    if any(clip.index < i < step.index for i in backward):
        return False
    earlier = [i for i in backward if i < clip.index]
    if backward and not earlier:
        return False  # the backward comes later in the loop body than the clip
    start = earlier[-1] if earlier else -1
    if any(start < i < clip.index for i in stepped):
        return False
    return [id(loop) for loop in clip.loops] == [id(loop) for loop in step.loops]


def _is_step(step: Step, scaler: str) -> bool:
    return any(
        isinstance(call.func, cst.Attribute)
        and call.func.attr.value == "step"
        and dotted_name(call.func.value) == scaler
        for call in step.calls
    )


def _backward_of(step: Step, scale: cst.Call) -> bool:
    """``<scale>.backward()`` in the same step."""
    return any(
        isinstance(call.func, cst.Attribute)
        and call.func.attr.value == "backward"
        and call.func.value is scale
        for call in step.calls
    )


def _attribute_target(step: Step, scalers: list[str]) -> None:
    """``self.scaler = GradScaler()`` binds no plain name; keep the attribute chain."""
    node = step.node
    if isinstance(node, cst.Assign):
        for target in node.targets:
            name = dotted_name(target.target)
            if name is not None and "." in name and name not in scalers:
                scalers.append(name)
