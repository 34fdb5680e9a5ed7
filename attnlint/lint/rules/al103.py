"""AL103 unlogged-grad-clip: the total norm returned by gradient clipping is thrown away.

The fix (unsafe: it adds a logging call the user has to want) keeps the norm in a name and
hands it to a logger the code already uses in that scope; without one, no fix is offered.
"""

from __future__ import annotations

import re
from typing import Any

import libcst as cst

from attnlint.lint.diagnostic import Edit, Fix
from attnlint.lint.helpers import (
    call_arg,
    is_test_path,
    parameter_names,
)
from attnlint.lint.index import RETURN
from attnlint.lint.names import LIGHTNING_MODULES, NORM_RETURNING
from attnlint.lint.normvalues import converted
from attnlint.lint.project import Module, Project
from attnlint.lint.rule import Rule, RuleContext, dotted_name
from attnlint.lint.scalarwriter import scalar_writer
from attnlint.lint.shadowing import module_alias, rebound
from attnlint.lint.summary import resolvable
from attnlint.lint.walk import walk

_FRESH_NAMES = ("grad_norm", "total_grad_norm", "grad_norm_before_clip")

# Project index fact: the function returns the total norm of a gradient clipping call.
RETURNS_NORM = "al103.returns_norm"
# A helper elsewhere that may clip (or call backward) itself: its caller need not compute
# gradients (``train_step(model, batch)``); ``norm``, not ``init.normal_``.
_STEP_NAME = re.compile(r"clip|norm(?!al)|grad|step|backward|update|optimi|train", re.I)
_GRADIENT_CALLS = ("backward", "manual_backward", "zero_grad")
# Libraries whose functions are known by name (NORM_RETURNING): never a project helper.
_LIBRARIES = ("torch", "numpy", "math", "logging", "lightning", "pytorch_lightning")


class UnloggedGradClip(Rule):
    code = "AL103"
    name = "unlogged-grad-clip"
    summary = "the total norm returned by clip_grad_norm_ is discarded or never used"
    # A caller of a project helper that clips and returns the norm (``optimizer_step(model,
    # opt)``) may name neither the clipping call nor the helper's module; it is asked about
    # only where the helper's name or the calling scope says step (``_STEP_NAME``,
    # ``_GRADIENT_CALLS``), so the words of those decide which files are read at all.
    triggers = tuple(
        spelling
        for word in ("clip", "norm", "grad", "step", "backward", "update", "optimi", "train")
        for spelling in (word, word.capitalize(), word.upper())
    )

    def __init__(self, context: RuleContext, options: Any | None = None) -> None:
        super().__init__(context, options)
        self._scopes: list[cst.FunctionDef | cst.ClassDef] = []
        self._skip = is_test_path(context.path)
        self._clips = "clip" in context.source  # else only a helper's dropped norm can fire
        self._norm_names: list[dict[str, str]] = []  # per function: name -> clipping call
        # Dropped results of project functions, with their scope: decided at the end of
        # the module, where the cheap questions come first (most files have many).
        self._dropped: list[tuple[cst.Call, cst.Name | None, cst.Module | cst.FunctionDef]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._scopes.append(node)
        self._norm_names.append({})

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scopes.pop()
        self._norm_names.pop()

    def visit_Return(self, node: cst.Return) -> None:
        """``return clip_grad_norm_(...)`` / ``return norm`` (or ``float(norm)``,
        ``norm.item()``): the function hands the norm to its caller (a project index fact)."""
        if not self._clips or not self._norm_names or node.value is None:
            return
        value = node.value
        what = self._clip_name(value)
        if what is None:
            if isinstance(value, cst.Call) and len(value.args) <= 1:
                func = value.func
                if isinstance(func, cst.Attribute) and func.attr.value == "item":
                    value = func.value
                elif isinstance(func, cst.Name) and func.value == "float" and value.args:
                    value = value.args[0].value
            if isinstance(value, cst.Name):
                what = self._norm_names[-1].get(value.value)
        function = self._scope()
        if what is not None and isinstance(function, cst.FunctionDef):
            self.context.index.fact(function, RETURNS_NORM, RETURN, what)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._scopes.append(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._scopes.pop()

    # -- detection -------------------------------------------------------------------

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._check_line(node, node.body, fixable=len(node.body) == 1)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self._check_line(node, node.body, fixable=False)

    def _check_line(
        self,
        line: cst.SimpleStatementLine | cst.SimpleStatementSuite,
        body: tuple[cst.BaseSmallStatement, ...] | list[cst.BaseSmallStatement],
        fixable: bool,
    ) -> None:
        if self._skip:
            return
        for small in body:
            if isinstance(small, cst.Expr):
                inner = converted(small.value)
                what = self._clip_name(inner) if self._clips else None
                can_fix = fixable and inner is small.value
                if what is None:
                    self._helper_dropped(small.value, None)
                if what is not None:
                    message = (
                        f"the total gradient norm returned by {what} is discarded: keep it and "
                        "log it, so exploding or vanishing gradients (and how often clipping "
                        "bites) show in the run's logs"
                    )
                    fix = self._fix(line, small.value, None) if can_fix else None
                    self.report(small.value, message, fix)
            elif isinstance(small, cst.Assign | cst.AnnAssign) and small.value is not None:
                inner = converted(small.value)
                what = self._clip_name(inner) if self._clips else None
                can_fix = fixable and inner is small.value
                targets = (
                    [t.target for t in small.targets]
                    if isinstance(small, cst.Assign)
                    else [small.target]
                )
                if len(targets) != 1 or not isinstance(targets[0], cst.Name):
                    continue
                target = targets[0]
                if what is not None and self._norm_names:
                    self._norm_names[-1][target.value] = what
                if what is None:
                    self._helper_dropped(small.value, target)
                    continue
                if target.value != "_" and self._is_read(target.value):
                    continue
                message = (
                    f"the total gradient norm returned by {what} is assigned to "
                    f"`{target.value}` and never used: log it, so exploding or vanishing "
                    "gradients (and how often clipping bites) show in the run's logs"
                )
                fix = self._fix(line, small.value, target) if can_fix else None
                self.report(small.value, message, fix)

    def _helper_dropped(self, value: cst.BaseExpression, target: cst.Name | None) -> None:
        """A discarded result of a project function: a finding if that function returns
        a clip norm (decided by the project index, which knows the callee)."""
        if not isinstance(value, cst.Call):
            return
        written = dotted_name(value.func)
        if written is None:
            return
        callee = self.context.index.callee(value) or ""
        if callee.partition(".")[0] in _LIBRARIES or not resolvable(written, self.context.imports):
            return
        self._dropped.append((value, target, self._scope()))

    def leave_Module(self, original_node: cst.Module) -> None:
        if not self._dropped:
            return
        project = Project()
        module = project.add(None, self.context.path, self.context.index.summary)
        for call, target, scope in self._dropped:
            # Whatever the helper is called, the index fact decides. A function of this
            # module is decided here, for free; one elsewhere leaves a pending finding, which
            # costs phase 2 this module's summary: only where a norm is likely, a scope that
            # computes gradients (``loss.backward()``) or a helper named for a step.
            local = self._norm_here(project, module, call)
            if local is False or (
                local is None
                and not _STEP_NAME.search((dotted_name(call.func) or "").rpartition(".")[2])
                and not self._computes_gradients(scope)
            ):
                continue
            if target is not None and target.value != "_" and self._is_read(target.value, scope):
                continue
            dropped = (
                "is discarded"
                if target is None or target.value == "_"
                else f"is assigned to `{target.value}` and never used"
            )
            self.report_if(
                call,
                call,
                RETURN,
                RETURNS_NORM,
                "the total gradient norm returned by {detail} in {callee}, called here, "
                f"{dropped}: log it, so exploding or vanishing gradients (and how often "
                "clipping bites) show in the run's logs",
            )

    def _computes_gradients(self, scope: cst.Module | cst.FunctionDef) -> bool:
        """``scope`` calls ``.backward(...)`` / ``.zero_grad(...)`` (searched only in files
        whose text names one)."""
        if not any(word in self.context.source for word in _GRADIENT_CALLS):
            return False
        return self.context.facts.once(
            "al103-gradients",
            scope,
            lambda: any(
                type(n) is cst.Attribute and n.attr.value in _GRADIENT_CALLS for n in walk(scope)
            ),
        )

    def _norm_here(self, project: Project, module: Module, call: cst.Call) -> bool | None:
        """Whether the callee returns a clip norm, as far as this module can tell: True for
        a function of this module that returns one itself; False for one that returns
        neither a norm nor another call's result (``self._reset()``), or a name phase 2
        could not resolve at all (``AttributeError(...)``); None when the answer lies
        elsewhere (an import, a ``self.`` method of a base class, a returned call)."""
        written = dotted_name(call.func)
        head = (written or ".").partition(".")[0]
        if written is None or head in self.context.imports:
            return None
        scope = self.context.index.scope_of(call)
        found = project.lookup(module, written, scope.name if scope is not None else "", 0)
        if found is None:
            return None if head in ("self", "cls") else False
        if RETURNS_NORM in found.function.facts:
            return True
        return None if found.function.returns else False

    def _clip_name(self, value: cst.BaseExpression | None) -> str | None:
        """What the call is, if it is a clipping call that returns the total norm."""
        if not isinstance(value, cst.Call):
            return None
        qualname = self.context.qualname(value.func)
        if qualname in NORM_RETURNING:
            return qualname
        func = value.func
        if not isinstance(func, cst.Attribute):
            # ``from deepspeed.runtime.utils import clip_grad_norm_``: another library's
            # function of torch's name and contract (it returns the total norm).
            if qualname and "." in qualname and qualname.endswith(".clip_grad_norm_"):
                return None if qualname.startswith("torch.") else qualname
            return None
        receiver = self.context.code_for(func.value).strip()
        if qualname is not None and qualname.startswith("torch."):
            return None  # a torch function that is not a norm-returning clip
        if func.attr.value == "clip_grad_norm_":  # Accelerate, FSDP
            return f"{receiver}.clip_grad_norm_"
        owner = receiver.rpartition(".")[2].lower()
        if func.attr.value == "clip_grad_norm" and ("optim" in owner or owner == "opt"):
            return f"{receiver}.clip_grad_norm"  # fairseq's and Megatron's optimizers
        if (
            func.attr.value == "clip_gradients"
            and receiver != "self"  # a LightningModule's clip_gradients returns None
            and call_arg(value, "max_norm", 3) is not None  # Fabric returns it with max_norm
        ):
            return f"{receiver}.clip_gradients"
        return None

    def _scope(self) -> cst.Module | cst.FunctionDef:
        for scope in reversed(self._scopes):
            if isinstance(scope, cst.FunctionDef):
                return scope
        return self.context.module

    def _is_read(self, name: str, scope: cst.Module | cst.FunctionDef | None = None) -> bool:
        scope = scope or self._scope()
        if isinstance(scope, cst.FunctionDef):
            for stmt in self.context.facts.statements(scope):
                if isinstance(stmt, cst.Global | cst.Nonlocal) and name in {
                    item.name.value for item in stmt.names if isinstance(item.name, cst.Name)
                }:
                    return True  # read elsewhere, out of sight
        return name in self.context.facts.reads(scope)

    # -- fix -------------------------------------------------------------------------

    def _fix(
        self,
        line: cst.SimpleStatementLine | cst.SimpleStatementSuite,
        call: cst.BaseExpression,
        target: cst.Name | None,
    ) -> Fix | None:
        if target is not None and target.value != "_":
            variable = target.value
        else:
            taken = self.context.facts.names(self._scope())
            variable = next((n for n in _FRESH_NAMES if n not in taken), "")
            if not variable:
                return None
        assert isinstance(call, cst.Call)
        log_line = self._log_line(call, variable)
        if log_line is None:
            return None
        edits: list[Edit] = []
        if target is None:
            # Only the callee is rewritten: re-rendering the whole call would re-indent
            # its continuation lines (libcst renders a node without its block's indent).
            callee = self.context.code_for(call.func).strip()
            if call.lpar or "\n" in callee:
                return None
            edits.append(Edit(call.func, f"{variable} = {callee}"))
        elif target.value == "_":
            edits.append(Edit(target, variable))
        edits.append(Edit(line, log_line, "insert_after"))
        return Fix(f"keep the norm in `{variable}` and log it", tuple(edits), "unsafe")

    def _log_line(self, call: cst.Call, variable: str) -> str | None:
        """A statement that logs ``variable`` with a logger this code already uses."""
        function = self._scope()
        source = self.context.source
        if self._in_lightning_method():
            return f'self.log("grad_norm", {variable})'
        func = call.func
        if isinstance(func, cst.Attribute) and self.context.qualname(func) not in NORM_RETURNING:
            # A method (Accelerate, Fabric): its own tracker, if the code sets one up.
            receiver = self.context.code_for(func.value).strip()
            if f"{receiver}.log(" in source or f"{receiver}.init_trackers(" in source:
                if func.attr.value == "clip_gradients":
                    return f'{receiver}.log("grad_norm", {variable})'  # Fabric
                return f'{receiver}.log({{"grad_norm": float({variable})}})'  # Accelerate
        # Names resolved where the line goes: a parameter ``logger`` hides the module's.
        wandb = module_alias(self.context.module, self.context.imports, self._functions(), "wandb")
        if wandb is not None and f"{wandb}.log(" in source:
            return f'{wandb}.log({{"grad_norm": float({variable})}})'
        # Once per scope, not per finding: codegen and a text search of the whole scope.
        writer = self.context.facts.once("al103-writer", function, lambda: self._writer(function))
        if writer is not None:
            receiver, step = writer
            return f'{receiver}.add_scalar("grad_norm", {variable}{step})'
        logger = self._python_logger(function)
        if logger is not None:
            name, loguru = logger
            if loguru:
                return f'{name}.info("grad_norm={{:.4f}}", {variable})'
            return f'{name}.info("grad_norm=%.4f", {variable})'
        return None

    def _in_lightning_method(self) -> bool:
        if len(self._scopes) < 2:
            return False
        function, klass = self._scopes[-1], self._scopes[-2]
        if not isinstance(function, cst.FunctionDef) or not isinstance(klass, cst.ClassDef):
            return False
        if "self" not in parameter_names(function):
            return False
        return any(self.context.qualname(base.value) in LIGHTNING_MODULES for base in klass.bases)

    def _python_logger(self, function: cst.Module | cst.FunctionDef) -> tuple[str, bool] | None:
        """A name bound to ``logging.getLogger(...)`` / ``get_logger(...)`` in this function
        or at module level, or loguru's ``logger``."""
        imports, functions = self.context.imports, self._functions()
        loguru = module_alias(self.context.module, imports, functions, "loguru.logger")
        if loguru is not None:
            return loguru, True
        scopes: list[cst.Module | cst.FunctionDef] = [self.context.module]
        if function is not self.context.module:
            scopes.insert(0, function)
        for scope in scopes:
            found = self.context.facts.once(
                "al103-logger", scope, lambda scope=scope: self._logger_in(scope)
            )
            if found is not None and (scope is function or not rebound(found, functions)):
                return found, False
        return None

    def _functions(self) -> list[cst.FunctionDef]:
        """The functions around the finding, innermost first."""
        return [s for s in reversed(self._scopes) if isinstance(s, cst.FunctionDef)]

    def _writer(self, function: cst.Module | cst.FunctionDef) -> tuple[str, str] | None:
        module = self.context.module
        if not self.context.facts.once(
            "al103-tb", module, lambda: ".add_scalar(" in self.context.source
        ):
            return None  # the usual case, without rendering the function's code
        if function is self.context.module:
            return scalar_writer(self.context.source)
        return scalar_writer(self.context.code_for(function))

    def _logger_in(self, scope: cst.Module | cst.FunctionDef) -> str | None:
        for stmt in self.context.facts.statements(scope):
            if (
                isinstance(stmt, cst.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0].target, cst.Name)
                and isinstance(stmt.value, cst.Call)
            ):
                qualname = self.context.qualname(stmt.value.func) or ""
                if qualname.endswith(("getLogger", "get_logger")):
                    return stmt.targets[0].target.value
        return None
