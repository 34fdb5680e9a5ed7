"""Which classes of a module are models (AL201): inside them, a layer sized from the
model's own configuration is model code, not the call site where the data is at hand."""

from __future__ import annotations

import re
from collections.abc import Callable

import libcst as cst

_MODEL_CLASS = re.compile(
    r"(Module|Model|ModelMixin|Layer|Net|Network|Encoder|Decoder|Transformer|MLP|Block|"
    r"Attention|Projector|Embeddings?|Head|Backbone|Stem|Ranker|Classifier|Regressor)$"
)

# What trains or builds a model, named after it (``WorldModelTrainer``, ``ModelFactory``):
# the training code, where the data is at hand, not model code.
_HARNESS = re.compile(r"(Trainer|Runner|Engine|Experiment|Builder|Factory|Loop|Pipeline)$")


def is_model_class(node: cst.ClassDef, qualname: Callable[[cst.CSTNode], str | None]) -> bool:
    """A class named like a model or subclassing one (``...Module``, ``...Model``; also a
    model of the same project, ``class XProjector(YProjector)``: the class's own name
    counts as much as its bases'), or one with a ``forward`` (or Keras ``call``); not one
    with a ``training_step``, where the batches are at hand."""
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    methods = {stmt.name.value for stmt in body if isinstance(stmt, cst.FunctionDef)}
    if "training_step" in methods:  # a LightningModule's training code sees the batches
        return False
    names = [node.name.value]
    names += [(qualname(b.value) or "").rpartition(".")[2] for b in node.bases]
    if any(
        _MODEL_CLASS.search(name) or ("Model" in name and not _HARNESS.search(name))
        for name in names
        if name
    ):
        return True
    return bool(methods & {"forward", "call"})
