"""Gradient norms per top-level module: one product with the 0/1 membership rows gives the
previous implementation's values (``tests/_stats_reference.py``), and it follows which
gradients are present."""

from __future__ import annotations

import torch
from _stats_reference import grad_norms as reference
from torch import nn

from attnlint.guard.gradnorms import GradGroups


def _model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Linear(8, 1))
    model[3].weight = model[2].weight  # shared: counts once, in the first group
    model.register_parameter("scale", nn.Parameter(torch.ones(1)))  # the root's own
    return model


def test_norms_match_the_previous_implementation_as_gradients_come_and_go() -> None:
    model = _model()
    groups = GradGroups(model)
    for step in range(3):
        model.zero_grad(set_to_none=True)
        loss = (model(torch.randn(5, 4)) * model.scale).sum()
        loss.backward()
        if step == 1:
            model[0].bias.grad = None  # a gradient that is absent this step
        if step == 2:
            model[2].weight.grad = None
            model[2].bias.grad = None  # a whole group absent
        got = groups.norms()
        assert got is not None
        present, expected = reference(groups.params)
        assert got.names == ["total", *(groups.names[g] for g in present)]
        assert torch.allclose(got.values, expected, rtol=1e-6), step


def test_no_gradient_gives_none() -> None:
    assert GradGroups(_model()).norms() is None
