"""Finding attention sites: module types first, torch.fx for user code, interception last.

* ``nn.MultiheadAttention`` (also inside ``nn.TransformerDecoderLayer``): forward hooks
  capture its inputs; probabilities are recomputed.
* ``nn.TransformerEncoderLayer``: an instance-level ``forward`` wrapper (a hook on the layer
  or on any of its submodules would switch off its inference fast path and change which
  kernel runs); the site is named after its ``self_attn``.
* User modules (classes outside ``torch.nn``) are traced one at a time with torch.fx, every
  child kept as a leaf, so one untraceable module never spoils the others. A softmax whose
  input derives from a matmul (``softmax(q @ k^T ...)``) or a
  ``F.scaled_dot_product_attention`` call in the module's own code is a site; it is observed
  by intercepting that call (TorchFunctionMode) on sampled steps.
* A user module that does not trace (data-dependent branch, ...) and holds no stock
  attention module is an interception scope too: its softmax (over the last dim, >= 3-d) and
  SDPA calls become sites when first seen at run time.

Tracing never executes the model's tensors: fx feeds proxies through ``forward``.
"""

from __future__ import annotations

import ast
import inspect
import operator
import textwrap
import warnings
from collections import deque
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import fx, nn

from attnlint.guard.source import source_attention_calls

ENCODER_LAYERS = (nn.TransformerEncoderLayer,)
DECODER_LAYERS = (nn.TransformerDecoderLayer,)
STOCK_ATTENTION = (nn.MultiheadAttention, *ENCODER_LAYERS, *DECODER_LAYERS)

_SOFTMAX_FUNCS = (torch.softmax, F.softmax, torch.special.softmax)
_MATMUL_FUNCS = (operator.matmul, torch.matmul, torch.bmm, torch.einsum, torch.baddbmm)
_MATMUL_METHODS = ("matmul", "bmm", "__matmul__")

HOW_MHA = "hooks on nn.MultiheadAttention inputs; probabilities recomputed per head"
HOW_ENCODER = (
    "forward wrapper on nn.TransformerEncoderLayer (keeps its fast path); "
    "self-attention probabilities recomputed per head"
)
HOW_FX = (
    "torch.fx: softmax(q @ k^T) / F.scaled_dot_product_attention in user code; "
    "call intercepted on sampled steps"
)
HOW_DYN_SOFTMAX = "untraceable module: softmax intercepted at run time (TorchFunctionMode)"
HOW_DYN_SDPA = "untraceable module: F.scaled_dot_product_attention intercepted at run time"
HOW_EXPECTED = (
    "expected: fx cannot trace this module, its forward's source calls softmax / SDPA / an "
    "attention function; confirmed or corrected on the first sampled forward"
)


@dataclass
class Scope:
    """A user module whose own code calls softmax / SDPA (traced) or might (untraceable)."""

    path: str
    module: nn.Module
    traced: bool
    # traced modules: per softmax / SDPA call in graph order, is it an attention site?
    calls: list[bool] = field(default_factory=list)


@dataclass
class Discovery:
    mha: dict[str, nn.MultiheadAttention] = field(default_factory=dict)  # hooked MHA sites
    encoder_layers: dict[str, nn.TransformerEncoderLayer] = field(default_factory=dict)
    decoder_layers: dict[str, nn.TransformerDecoderLayer] = field(default_factory=dict)
    scopes: dict[str, Scope] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)  # site -> how it is observed
    untraceable: dict[str, str] = field(default_factory=dict)  # module path -> why
    # user blocks that add their input back (x + f(x)), by graph or by source: path -> module
    residual_blocks: dict[str, nn.Module] = field(default_factory=dict)


def site_name(path: str, index: int = 0) -> str:
    base = path or "root"
    return base if index == 0 else f"{base}[{index}]"


def _is_user_module(m: nn.Module) -> bool:
    mod = type(m).__module__ or ""
    return not (mod.startswith("torch.") or mod == "torch")


class _OneLevelTracer(fx.Tracer):
    """Traces only the root's own code: every submodule is a leaf."""

    def __init__(self, root: nn.Module) -> None:
        super().__init__()
        self._root_module = root

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return m is not self._root_module


def _is_softmax(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    if node.op == "call_function" and node.target in _SOFTMAX_FUNCS:
        return True
    if node.op == "call_method" and node.target == "softmax":
        return True
    if node.op == "call_module":
        return isinstance(modules.get(str(node.target)), nn.Softmax)
    return False


def _is_matmul(node: fx.Node) -> bool:
    if node.op == "call_function" and node.target in _MATMUL_FUNCS:
        return True
    return node.op == "call_method" and node.target in _MATMUL_METHODS


def _derives_from_matmul(node: fx.Node, depth: int = 8) -> bool:
    seen: set[fx.Node] = set()
    todo: deque[tuple[fx.Node, int]] = deque((a, 1) for a in node.all_input_nodes)
    while todo:
        n, d = todo.popleft()
        if n in seen or d > depth:
            continue
        seen.add(n)
        if _is_matmul(n):
            return True
        # logits reach the softmax through scaling / masking only: a submodule (a Linear
        # head) or another softmax in between means this softmax is not over QK^T
        if n.op == "call_module" or (n.op == "call_method" and n.target == "softmax"):
            continue
        if n.op == "call_function" and n.target in _SOFTMAX_FUNCS:
            continue
        todo.extend((a, d + 1) for a in n.all_input_nodes)
    return False


_ADD_FUNCS = (operator.add, operator.iadd, torch.add)


def _adds_its_input(graph: fx.Graph) -> bool:
    """The module's first input is an operand of an addition: a residual ``x + f(x)``."""
    x = next((n for n in graph.nodes if n.op == "placeholder"), None)
    if x is None:
        return False
    for n in graph.nodes:
        is_add = (n.op == "call_function" and n.target in _ADD_FUNCS) or (
            n.op == "call_method" and n.target in ("add", "add_")
        )
        if is_add and x in n.args[:2]:
            return True
    return False


def _source_adds_its_input(module: nn.Module) -> bool:
    """For a module fx cannot trace: does ``forward``'s source add its first argument to
    something (``x = x + self.attn(x)``, ``x += ...``)? Read with the stdlib ``ast``."""
    try:
        source = textwrap.dedent(inspect.getsource(type(module).forward))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return False
    func = tree.body[0] if tree.body else None
    if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    params = [a.arg for a in (*func.args.posonlyargs, *func.args.args)][1:]  # past self
    if not params:
        return False
    # the input and the names bound straight to it (``residual = hidden_states``, as GPT-2's
    # block does before normalising)
    xs = {params[0]}
    for node in ast.walk(func):
        is_alias = isinstance(node, ast.Assign) and isinstance(node.value, ast.Name)
        if is_alias and node.value.id in xs:
            xs.update(t.id for t in node.targets if isinstance(t, ast.Name))

    def is_x(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id in xs

    for node in ast.walk(func):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            operands = (node.left, node.right)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add):
            operands = (node.target,)
        else:
            continue
        if any(is_x(operand) for operand in operands):
            return True
    return False


def _trace(module: nn.Module) -> fx.Graph:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _OneLevelTracer(module).trace(module)


def discover(model: nn.Module) -> Discovery:
    found = Discovery()
    skip: set[int] = set()  # submodules of stock layers: observed through their layer
    holds_stock: dict[int, bool] = {}
    for _path, m in model.named_modules():
        holds_stock[id(m)] = any(isinstance(s, STOCK_ATTENTION) for s in m.modules())

    residual = found.residual_blocks
    for path, m in model.named_modules():
        if id(m) in skip:
            continue
        if isinstance(m, ENCODER_LAYERS):
            found.encoder_layers[path] = m
            name = site_name(f"{path}.self_attn" if path else "self_attn")
            found.sites[name] = HOW_ENCODER
            skip.update(id(s) for s in m.modules())
            continue
        if isinstance(m, DECODER_LAYERS):
            found.decoder_layers[path] = m
            continue  # its two MHA children are hooked below
        if isinstance(m, nn.MultiheadAttention):
            found.mha[path] = m
            found.sites[site_name(path)] = HOW_MHA
            continue
        if not _is_user_module(m):
            continue
        try:
            graph = _trace(m)
        except Exception as exc:  # any tracing failure means "observe with hooks"
            found.untraceable[path or "root"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            if path and not holds_stock[id(m)] and _source_adds_its_input(m):
                residual[path] = m
            if not holds_stock[id(m)]:
                # interception would also see (and slow down) the stock module's fast path
                found.scopes[path] = Scope(path, m, traced=False)
                for index in range(source_attention_calls(m)):
                    found.sites.setdefault(site_name(path, index), HOW_EXPECTED)
            continue
        if path and not holds_stock[id(m)] and _adds_its_input(graph):
            residual[path] = m
        modules = dict(m.named_modules())
        calls = []
        for n in graph.nodes:
            if _is_softmax(n, modules):
                calls.append(_derives_from_matmul(n))
            elif n.op == "call_function" and n.target is F.scaled_dot_product_attention:
                calls.append(True)
        if any(calls) and not holds_stock[id(m)]:
            found.scopes[path] = Scope(path, m, traced=True, calls=calls)
            for index in range(sum(calls)):
                found.sites[site_name(path, index)] = HOW_FX
    return found
