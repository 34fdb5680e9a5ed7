"""The guard under torch.compile: no recompilation after the first compile, no graph break
on unsampled steps, the same statistics as eager, and checks that still fire.

Graphs are counted with a backend that runs dynamo's FX graphs as they are (no inductor
code generation), so the tests measure dynamo's behaviour in seconds.
"""

from __future__ import annotations

import math

import pytest
import torch
from guard_models import FAMILIES, first_output, nan_input

from attnlint.guard import AttentionGuard, GuardConfig

pytest.importorskip("torch._dynamo")
from torch._dynamo.utils import counters

FAM = {f.name: f for f in FAMILIES}
EVERY = 4


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one intra-op thread is faster, and far faster on a shared machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


STEPS = 10


class GraphCounter:
    """A dynamo backend that counts the graphs it compiles and each graph run per step."""

    def __init__(self) -> None:
        self.compiled = 0
        self.runs = 0

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list) -> object:
        self.compiled += 1

        def run(*args: object) -> object:
            self.runs += 1
            return gm.forward(*args)

        return run


def _train(call, guard, fam, counter, steps=STEPS, batch=None):
    """-> per step: (graphs compiled so far, graph runs in this step, report)."""
    args, kwargs = batch or fam.batch()
    trace = []
    for _ in range(steps):
        before = counter.runs
        out = first_output(call(*args, **kwargs))
        out.float().square().mean().backward()
        if guard is not None:
            guard.record_grad_norms()
            trace.append((counter.compiled, counter.runs - before, guard.step()))
        else:
            trace.append((counter.compiled, counter.runs - before, None))
    return trace


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


# "set": nn.MultiheadAttention hooks (its model breaks the graph itself: a tensor-valued
# branch); "encoder": the TransformerEncoderLayer wrapper; "causal": an untraceable user
# block (interception, residual hook); "sdpa": an fx-found SDPA site.
@pytest.mark.parametrize("name", ["set", "encoder", "causal", "sdpa"])
@pytest.mark.parametrize("attach", ["before_compile", "after_compile"])
def test_no_recompile_and_no_graph_break_from_the_guard(name: str, attach: str) -> None:
    fam = FAM[name]
    plain = GraphCounter()
    base = _train(torch.compile(fam.make(), backend=plain), None, fam, plain)
    breaks_plain = set(counters["graph_break"])
    counters.clear()
    torch._dynamo.reset()

    counter = GraphCounter()
    model = fam.make()
    cfg = GuardConfig(every=EVERY, on_violation="log")
    if attach == "before_compile":
        guard = AttentionGuard(model, config=cfg)
        call = torch.compile(model, backend=counter)
    else:
        call = guard = AttentionGuard(torch.compile(model, backend=counter), config=cfg)
    trace = _train(call, guard, fam, counter)
    guard.close()

    # compiled on the first (sampled) step and once more on the first unsampled step only
    assert all(compiled == trace[1][0] for compiled, _, _ in trace[1:])
    assert counter.compiled <= 2 * max(plain.compiled, 1)
    # the only graph breaks are the model's own (the "set" model branches on a tensor)
    assert set(counters["graph_break"]) == breaks_plain
    # an unsampled step runs exactly the graphs the unguarded compiled model runs, also
    # where the model breaks the graph itself (the output check after the forward only
    # holds the outputs, no tensor op, so the frame resuming after the break has no graph)
    for i, (_, runs, report) in enumerate(trace):
        assert report.sampled == (i % EVERY == 0)
        if not report.sampled:
            assert runs == base[i][1], (i, runs, base[i][1])
        else:
            assert fam.site in report.layers, (i, sorted(report.layers))
    assert "_orig_mod" not in "".join(guard.sites)


def _report_values(report):
    return {
        (site, key): v
        for site, st in report.layers.items()
        for key, v in st.model_dump().items()
        if isinstance(v, float)
    }


@pytest.mark.parametrize("name", ["encoder", "causal", "sdpa", "set"])
def test_compiled_statistics_equal_eager(name: str) -> None:
    fam = FAM[name]
    reports = {}
    for mode in ("eager", "compiled"):
        torch._dynamo.reset()
        model = fam.make().eval()  # no dropout: both runs compute the same probabilities
        guard = AttentionGuard(model, config=GuardConfig(on_violation="log"))
        call = torch.compile(model, backend=GraphCounter()) if mode == "compiled" else model
        reports[mode] = _train(call, guard, fam, GraphCounter(), steps=1)[0][2]
        guard.close()
    eager, compiled = _report_values(reports["eager"]), _report_values(reports["compiled"])
    assert eager and set(eager) == set(compiled)
    for key, v in eager.items():
        assert compiled[key] == pytest.approx(v, rel=1e-4, abs=1e-6), key
    assert reports["compiled"].grad_norms.keys() == reports["eager"].grad_norms.keys()


@pytest.mark.parametrize("name", ["encoder", "causal", "sdpa", "set"])
def test_checks_fire_on_a_compiled_model(name: str) -> None:
    fam = FAM[name]
    model = fam.make()
    fam.one_hot(model)
    guard = AttentionGuard(model, config=GuardConfig(every=2, on_violation="log"))
    call = torch.compile(model, backend=GraphCounter())
    trace = _train(call, guard, fam, GraphCounter(), steps=3)
    collapse = [v for _, _, r in trace for v in r.violations if v.check == "attention_entropy"]
    assert any(v.site == fam.site for v in collapse)

    # a NaN in the input on an unsampled step: counted on the device, reported when sampled
    args, kwargs = fam.batch()
    bad_args, bad_kwargs = nan_input(args, kwargs)
    assert not guard.sampled
    first_output(call(*bad_args, **bad_kwargs))
    guard.step()
    first_output(call(*args, **kwargs))
    report = guard.step()
    guard.close()
    finite = [v for v in report.violations if v.check == "finite_scores"]
    assert any(v.site == "output" and v.value == 1.0 for v in finite), report.violations


def test_compiled_outputs_and_gradients_are_bit_identical() -> None:
    fam = FAM["causal"]
    grads = {}
    outs = {}
    for guarded in (False, True):
        torch._dynamo.reset()
        model = fam.make()
        guard = AttentionGuard(model, config=GuardConfig(every=2)) if guarded else None
        call = torch.compile(model, backend=GraphCounter())
        args, kwargs = fam.batch()
        got = []
        for _ in range(3):
            out = first_output(call(*args, **kwargs))
            out.square().mean().backward()
            got.append(out.detach())
            if guard is not None:
                guard.step()
        outs[guarded] = got
        grads[guarded] = [p.grad.clone() for p in model.parameters()]
        if guard is not None:
            guard.close()
    assert all(torch.equal(a, b) for a, b in zip(outs[False], outs[True], strict=True))
    assert all(torch.equal(a, b) for a, b in zip(grads[False], grads[True], strict=True))
    assert not math.isnan(float(outs[True][0].sum()))


def test_several_guarded_models_in_one_process_all_compile() -> None:
    """Folds or a sweep: each model gets a guard and is compiled in the same process.
    Every wrapper's ``forward`` has its own code object, so dynamo's recompile limit is
    not shared between the models: the last one compiles and runs its graphs as well."""
    fam = FAM["encoder"]
    limit = torch._dynamo.config.recompile_limit
    for _ in range(limit // 2 + 2):  # two cache entries per model: sampled, unsampled
        counter = GraphCounter()
        model = fam.make()
        guard = AttentionGuard(model, config=GuardConfig(every=EVERY, on_violation="log"))
        trace = _train(torch.compile(model, backend=counter), guard, fam, counter, steps=EVERY + 1)
        guard.close()
        assert counter.compiled >= 1
        assert all(runs > 0 for _, runs, _ in trace)  # no step fell back to eager


def _train_guarded(fam, counter, steps, every=2):
    """A fresh model of ``fam``, guarded, then compiled with ``counter``: ``_train``'s trace."""
    model = fam.make()
    guard = AttentionGuard(model, config=GuardConfig(every=every, on_violation="log"))
    trace = _train(torch.compile(model, backend=counter), guard, fam, counter, steps=steps)
    guard.close()
    return trace


class GradOutputs(GraphCounter):
    """Also records, per compiled graph, how many of its outputs require grad: each one
    gets a tangent in the backward, a zero tensor materialised when nothing flows in."""

    def __init__(self) -> None:
        super().__init__()
        self.grad_outputs: list[int] = []

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list) -> object:
        (out,) = (n for n in gm.graph.nodes if n.op == "output")
        values = torch.fx.node.map_arg(out.args[0], lambda n: n.meta.get("example_value"))
        flat = torch.utils._pytree.tree_leaves(values)
        self.grad_outputs.append(sum(isinstance(t, torch.Tensor) and t.requires_grad for t in flat))
        return super().__call__(gm, example_inputs)


@pytest.mark.parametrize("name", ["sdpa", "causal", "encoder", "set"])
def test_sampled_compiled_graphs_hand_the_backward_no_extra_outputs(name: str) -> None:
    """What a sampled step stashes inside a compiled region leaves the graph detached: the
    backward of a sampled step has the tangents of the model's own outputs only."""
    fam = FAM[name]
    plain = GradOutputs()
    _train(torch.compile(fam.make(), backend=plain), None, fam, plain, steps=2)
    torch._dynamo.reset()
    guarded = GradOutputs()
    trace = _train_guarded(fam, guarded, steps=3)
    assert fam.site in trace[0][2].layers  # the sampled step observed the site
    assert max(guarded.grad_outputs) <= max(plain.grad_outputs), guarded.grad_outputs


@pytest.mark.parametrize("reset", [True, False], ids=["reset", "no_reset"])
def test_folds_of_a_model_that_breaks_the_graph(reset: bool) -> None:
    """docs/guard.md: where the model breaks the graph itself, the frames resuming after
    the break are the model class's own, and each guarded model adds two entries to them;
    past dynamo's recompile limit those frames run eagerly, unless the folds reset dynamo
    between them."""
    fam = FAM["set"]
    folds = torch._dynamo.config.recompile_limit // 2 + 2
    last_runs: list[int] = []
    for _ in range(folds):
        if reset:
            torch._dynamo.reset()
        last_runs = [runs for _, runs, _ in _train_guarded(fam, GraphCounter(), steps=4)]
    first = fam.make()  # the graphs a fold runs per step, compiled afresh and unguarded
    torch._dynamo.reset()
    plain = GraphCounter()
    base = _train(torch.compile(first, backend=plain), None, fam, plain, steps=4)
    # the last fold runs as many graphs per unsampled step as a fresh unguarded model
    # when dynamo was reset, and fewer (the resumed frames run eagerly) when it was not
    unsampled = [i for i in range(4) if i % 2]
    same = all(last_runs[i] == base[i][1] for i in unsampled)
    assert same == reset, (last_runs, [b[1] for b in base])
