"""The numerics rules' vocabulary: which values are scores (model outputs, logits, the
loss), which calls are the loss or a forward pass, and which functions compute a loss.

Names are matched by ``_`` tokens so that ``pred_scores`` and ``y_pred`` count and
``description`` does not. Pure syntax: nothing here follows values (that is ``flow``).
"""

from __future__ import annotations

import libcst as cst

from attnlint.lint.rule import dotted_name
from attnlint.lint.walk import walk

SCORE_TOKENS = frozenset(
    {
        "score", "scores", "logit", "logits", "pred", "preds", "prediction", "predictions",
        "output", "outputs", "out", "energy", "energies", "yhat",
    }
)  # fmt: skip


def passes_named(call: cst.Call, tokens: frozenset[str]) -> bool:
    """An argument of ``call`` holds a name with one of ``tokens`` (``keep_mask``,
    ``batch.pad``)."""
    return any(
        name_tokens(node) & tokens
        for arg in call.args
        for node in walk(arg.value)
        if isinstance(node, cst.Name | cst.Attribute)
    )


def name_tokens(node: cst.CSTNode) -> set[str]:
    """Lower-case ``_`` tokens of the name a value goes by: ``self.pred_scores`` ->
    {pred, scores}; ``out["logits"]`` -> {out, logits}."""
    if isinstance(node, cst.Name):
        return set(node.value.lower().split("_"))
    if isinstance(node, cst.Attribute):
        return set(node.attr.value.lower().split("_"))
    if isinstance(node, cst.Subscript):
        tokens = name_tokens(node.value)
        if len(node.slice) == 1:
            index = node.slice[0].slice
            if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString):
                tokens |= set(index.value.raw_value.lower().split("_"))
        return tokens
    return set()


def callee_last(call: cst.Call) -> str:
    """The called name's last part: ``F.cross_entropy`` -> ``cross_entropy``."""
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return ""


LOSS_TOKENS = frozenset({"loss", "losses", "criterion", "crit", "listmle", "listnet", "ranknet"})
LOSS_FUNCTIONS = frozenset(
    {
        "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
        "kl_div", "nll", "mse", "smooth_l1", "margin_ranking", "ctc",
    }
)  # fmt: skip
# Attribute names on a model that are not its forward pass.
_NOT_FORWARD = LOSS_TOKENS | {"log", "log_dict", "metric", "metrics", "logger", "print"}
MODEL_NAMES = frozenset(
    {"model", "net", "network", "module", "self", "ranker", "scorer", "classifier", "backbone"}
)


def is_loss_call(call: cst.Call) -> bool:
    """``criterion(...)``, ``self.loss_fn(...)``, ``listmle_loss(...)``,
    ``F.cross_entropy(...)``, ``nn.MSELoss()(...)``."""
    func = call.func
    if isinstance(func, cst.Call):  # nn.CrossEntropyLoss()(logits, y)
        return callee_last(func).endswith("Loss")
    last = callee_last(call)
    if last.endswith("Loss"):
        return False  # constructing a loss module is not computing a loss
    tokens = set(last.lower().split("_"))
    return bool(tokens & LOSS_TOKENS) or last.lower().removesuffix("_loss") in LOSS_FUNCTIONS


def is_model_call(call: cst.Call) -> bool:
    """``model(x)``, ``self(x)``, ``self.scorer(z)``, ``net.forward(x)``: a forward pass."""
    name = dotted_name(call.func)
    if name is None:
        return False
    parts = name.split(".")
    if parts[-1] == "forward":
        return True
    if parts[0] not in MODEL_NAMES and parts[-1] not in MODEL_NAMES:
        return False
    return not set(parts[-1].lower().split("_")) & _NOT_FORWARD


def is_loss_scope(scope: cst.FunctionDef | cst.Module, class_name: str | None) -> bool:
    """A function that computes a loss: its return value is the loss."""
    if not isinstance(scope, cst.FunctionDef):
        return False
    if set(scope.name.value.lower().split("_")) & LOSS_TOKENS:
        return True
    if scope.name.value == "training_step":  # Lightning backpropagates what it returns
        return True
    # ``SetCriterion.forward`` (DETR and its descendants) returns the loss as well.
    return (
        scope.name.value == "forward"
        and class_name is not None
        and class_name.endswith(("Loss", "Criterion"))
    )


def contains(outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
    """Whether ``inner`` (by identity) is ``outer`` or inside it."""
    return any(node is inner for node in walk(outer))
