"""AL101 hardcoded-learning-rate, AL102 hardcoded-clip-norm, AL103 unlogged-grad-clip."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from attnlint.lint.engine import lint_source
from attnlint.lint.fixer import apply_fixes
from attnlint.lint.rules.al101 import HardcodedLearningRate
from attnlint.lint.rules.al102 import HardcodedClipNorm
from attnlint.lint.rules.al103 import UnloggedGradClip


def lines(rule: type, source: str, path: str = "train.py", **options: object) -> list[int]:
    opts = {rule.code: rule.Options.model_validate(options)} if options else None
    found = lint_source(textwrap.dedent(source), path, rules=[rule], options=opts)
    return [d.line for d in found]


# -- AL101 ----------------------------------------------------------------------------

AL101_FIRES = {
    "keyword": ("import torch\ntorch.optim.Adam(m.parameters(), lr=1e-3)\n", [2]),
    "positional": ("from torch.optim import SGD\nSGD(m.parameters(), 0.1, momentum=0.9)\n", [2]),
    "alias": ("from torch import optim as o\no.AdamW(m.parameters(), lr=3e-4)\n", [2]),
    "module alias": ("import torch.optim as topt\ntopt.RMSprop(p, lr=-1e-2 * 2)\n", [2]),
    "param group": (
        'import torch\ntorch.optim.Adam([{"params": a, "lr": 1e-4}, {"params": b}], lr=cfg.lr)\n',
        [2],
    ),
    "param group through a name": (
        """\
        import torch
        def f(model, cfg):
            groups = [
                {"params": model.a.parameters(), "lr": 1e-4},
                dict(params=model.b.parameters(), lr=1e-5),
            ]
            return torch.optim.AdamW(groups, lr=cfg.lr)
        """,
        [4, 5],
    ),
    "one cycle": (
        "from torch.optim.lr_scheduler import OneCycleLR\nOneCycleLR(opt, max_lr=0.01)\n",
        [2],
    ),
    "cyclic positional": (
        "from torch.optim import lr_scheduler\nlr_scheduler.CyclicLR(opt, 1e-4, 1e-2)\n",
        [2, 2],  # base_lr and max_lr
    ),
    "bitsandbytes": ("import bitsandbytes as bnb\nbnb.optim.AdamW8bit(p, lr=2e-5)\n", [2]),
    "transformers": ("from transformers import Adafactor\nAdafactor(p, lr=1e-3)\n", [2]),
    "training arguments": (
        "from transformers import TrainingArguments as TA\nTA('out', learning_rate=5e-5)\n",
        [2],
    ),
    "timm factory": (
        "from timm.optim import create_optimizer_v2\ncreate_optimizer_v2(m, 'adamw', 1e-3)\n",
        [2],
    ),
    "lightning configure_optimizers": (
        """\
        import torch
        import lightning as L
        class M(L.LightningModule):
            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters(), lr=1e-3)
        """,
        [5],
    ),
}


@pytest.mark.parametrize("case", AL101_FIRES, ids=str)
def test_al101_fires(case: str) -> None:
    source, expected = AL101_FIRES[case]
    assert lines(HardcodedLearningRate, source) == expected


AL101_SILENT = {
    "variable": "import torch\nlr = 1e-3\ntorch.optim.Adam(p, lr=lr)\n",
    "attribute": "import torch\ntorch.optim.Adam(p, lr=cfg.lr)\n",
    "subscript": "import torch\ntorch.optim.Adam(p, lr=cfg['optim']['lr'])\n",
    "get with fallback": "import torch\ntorch.optim.Adam(p, lr=cfg.get('lr', 1e-3))\n",
    "cli argument": "import torch\ntorch.optim.SGD(p, args.lr)\n",
    "environment": "import os, torch\ntorch.optim.SGD(p, float(os.environ['LR']))\n",
    "parameter default": "import torch\ndef f(p, lr=1e-3):\n    torch.optim.Adam(p, lr=lr)\n",
    "caps constant": "import torch\nLR = 1e-3\ntorch.optim.Adam(p, lr=LR)\n",
    "eta_min floor": (
        "import torch\ntorch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-6)\n"
    ),
    "plateau floor": "import torch\ntorch.optim.lr_scheduler.ReduceLROnPlateau(o, min_lr=1e-6)\n",
    "unrelated Adam": "from mylib import Adam\nAdam(p, lr=0.5)\n",
    "unimported Adam": "Adam(p, lr=0.5)\n",
    "method named like an optimizer": "import torch\nsolver.Adam(p, lr=0.5)\n",
    "lr in an unrelated call": "import torch\nsweep(lr=1e-3)\nx = dict(lr=1e-3)\n",
    "optimizer base class": "import torch\ntorch.optim.Optimizer(p, {'lr': 1e-3})\n",
    "group literal from config": "import torch\ntorch.optim.Adam([{'params': p, 'lr': cfg.lr}])\n",
    "no lr given": "import torch\ntorch.optim.Adam(model.parameters())\n",
    "transformers schedule": (
        "from transformers import get_linear_schedule_with_warmup as g\ng(opt, 100, 1000)\n"
    ),
}


@pytest.mark.parametrize("case", AL101_SILENT, ids=str)
def test_al101_silent(case: str) -> None:
    assert lines(HardcodedLearningRate, AL101_SILENT[case]) == []


@pytest.mark.parametrize("path", ["tests/test_train.py", "test_opt.py", "a/conftest.py"])
def test_al101_skips_test_files(path: str) -> None:
    source = "import torch\ntorch.optim.Adam(p, lr=1e-3)\n"
    assert lines(HardcodedLearningRate, source, path=path) == []
    assert lines(HardcodedLearningRate, source, path="src/testing_utils.py") == [2]


def test_al101_flag_constants_follows_module_literals_only() -> None:
    source = """\
    import torch
    LR = 1e-3
    TWICE = 1e-3
    TWICE = 2e-3
    FROM_CFG = cfg.lr
    def a(p):
        return torch.optim.Adam(p, lr=LR)
    def b(p, LR=0.1):
        return torch.optim.Adam(p, lr=LR)
    def c(p):
        LR = cfg.lr
        return torch.optim.Adam(p, lr=LR)
    def d(p):
        return torch.optim.Adam(p, lr=TWICE) or torch.optim.Adam(p, lr=FROM_CFG)
    """
    assert lines(HardcodedLearningRate, source) == []
    assert lines(HardcodedLearningRate, source, **{"flag-constants": True}) == [7]
    assert lines(HardcodedLearningRate, source, flag_constants=True) == [7]


def test_al101_message_names_optimizer_and_value() -> None:
    source = "from torch import optim as o\no.AdamW(p, 3e-4)\n"
    (found,) = lint_source(source, "train.py", rules=[HardcodedLearningRate])
    assert "torch.optim.AdamW" in found.message and "3e-4" in found.message
    assert "positional" in found.message
    assert (found.line, found.column, found.end_column) == (2, 12, 16)


def test_al101_rejects_unknown_option() -> None:
    with pytest.raises(ValueError):
        HardcodedLearningRate.Options.model_validate({"flag-constant": True})


# -- AL102 ----------------------------------------------------------------------------

AL102_FIRES = {
    "keyword": "import torch\ntorch.nn.utils.clip_grad_norm_(m.parameters(), max_norm=1.0)\n",
    "positional": "import torch.nn as nn\nnn.utils.clip_grad_norm_(m.parameters(), 0.5)\n",
    "bare import": "from torch.nn.utils import clip_grad_norm_\nclip_grad_norm_(p, 2)\n",
    "value clipping": "import torch\ntorch.nn.utils.clip_grad_value_(p, clip_value=5.0)\n",
    "accelerate": "import torch\naccelerator.clip_grad_norm_(model.parameters(), 1.0)\n",
    "accelerate on self": "import torch\nself.accelerator.clip_grad_norm_(params, max_norm=1.0)\n",
    "fsdp": "import torch\nmodel.clip_grad_norm_(1.0)\n",
    "fabric": "import torch\nfabric.clip_gradients(model, optimizer, max_norm=1.0)\n",
    "fabric positional": "import torch\nfabric.clip_gradients(model, optimizer, None, 2.0)\n",
    "lightning module": (
        "import torch\nself.clip_gradients(optimizer, gradient_clip_val=0.5, "
        "gradient_clip_algorithm='norm')\n"
    ),
    "lightning trainer": "import lightning as L\nL.Trainer(max_epochs=3, gradient_clip_val=0.5)\n",
    "pl trainer": (
        "from pytorch_lightning import Trainer\nTrainer(gradient_clip_val=1, max_epochs=1)\n"
    ),
    "training arguments": (
        "from transformers import TrainingArguments\nTrainingArguments('o', max_grad_norm=1.0)\n"
    ),
}


@pytest.mark.parametrize("case", AL102_FIRES, ids=str)
def test_al102_fires(case: str) -> None:
    assert lines(HardcodedClipNorm, AL102_FIRES[case]) == [2]


AL102_SILENT = {
    "config attribute": "import torch\ntorch.nn.utils.clip_grad_norm_(p, cfg.max_norm)\n",
    "config subscript": "import torch\ntorch.nn.utils.clip_grad_norm_(p, cfg['clip'])\n",
    "get with fallback": "import torch\ntorch.nn.utils.clip_grad_norm_(p, cfg.get('c', 1.0))\n",
    "parameter default": (
        "import torch\ndef f(p, max_norm=1.0):\n    torch.nn.utils.clip_grad_norm_(p, max_norm)\n"
    ),
    "caps constant": "import torch\nMAX = 1.0\ntorch.nn.utils.clip_grad_norm_(p, MAX)\n",
    "norm type literal only": "import torch\ntorch.nn.utils.clip_grad_norm_(p, cfg.c, 2.0)\n",
    "accelerate from config": "import torch\naccelerator.clip_grad_norm_(p, args.max_grad_norm)\n",
    "fsdp from config": "import torch\nmodel.clip_grad_norm_(cfg.clip)\n",
    "lightning hook forwarding": (
        "import torch\nself.clip_gradients(optimizer, gradient_clip_val=gradient_clip_val)\n"
    ),
    "trainer without clipping": "import lightning as L\nL.Trainer(max_epochs=3)\n",
    "unrelated clip": "import torch\ntorch.clamp(x, 0.0, 1.0)\nnp.clip(x, 0, 1)\n",
}


@pytest.mark.parametrize("case", AL102_SILENT, ids=str)
def test_al102_silent(case: str) -> None:
    assert lines(HardcodedClipNorm, AL102_SILENT[case]) == []


def test_al102_flag_constants() -> None:
    source = "import torch\nMAX_NORM = 1.0\ntorch.nn.utils.clip_grad_norm_(p, MAX_NORM)\n"
    assert lines(HardcodedClipNorm, source, flag_constants=True) == [3]


# -- AL103 ----------------------------------------------------------------------------

AL103_FIRES = {
    "bare call": "import torch\ntorch.nn.utils.clip_grad_norm_(p, 1.0)\n",
    "underscore": "from torch.nn.utils import clip_grad_norm_\n_ = clip_grad_norm_(p, 1.0)\n",
    "never read": (
        "import torch\ndef step(p):\n    norm = torch.nn.utils.clip_grad_norm_(p, 1.0)\n"
        "    return None\n"
    ),
    "accelerate": "import torch\naccelerator.clip_grad_norm_(model.parameters(), cfg.clip)\n",
    "fabric with max_norm": "import torch\nfabric.clip_gradients(m, opt, max_norm=cfg.c)\n",
    "one-line suite": "import torch\nif ok: torch.nn.utils.clip_grad_norm_(p, 1.0)\n",
    "fairseq optimizer": "import torch\nself.optimizer.clip_grad_norm(self.cfg.clip_norm)\n",
}


@pytest.mark.parametrize("case", AL103_FIRES, ids=str)
def test_al103_fires(case: str) -> None:
    source = AL103_FIRES[case]
    expected = [3] if case == "never read" else [2]
    assert lines(UnloggedGradClip, source) == expected


AL103_SILENT = {
    "logged": (
        "import torch\ndef f(p):\n    n = torch.nn.utils.clip_grad_norm_(p, 1.0)\n"
        "    logger.info('%s', n)\n"
    ),
    "appended": "import torch\nnorms.append(torch.nn.utils.clip_grad_norm_(p, 1.0))\n",
    "returned": "import torch\ndef f(p):\n    return torch.nn.utils.clip_grad_norm_(p, 1.0)\n",
    "compared": (
        "import torch\ndef f(p):\n    n = torch.nn.utils.clip_grad_norm_(p, 1.0)\n"
        "    if n > 10:\n        raise RuntimeError\n"
    ),
    "stored on self": "import torch\nself.last_norm = torch.nn.utils.clip_grad_norm_(p, 1.0)\n",
    "stored in dict": "import torch\nstats['gn'] = torch.nn.utils.clip_grad_norm_(p, 1.0)\n",
    "read in a nested function": (
        "import torch\ndef f(p):\n    n = torch.nn.utils.clip_grad_norm_(p, 1.0)\n"
        "    def g():\n        return n\n    return g\n"
    ),
    "read before, in a loop": (
        "import torch\ndef f(p):\n    n = 0\n    for _ in range(3):\n        print(n)\n"
        "        n = torch.nn.utils.clip_grad_norm_(p, 1.0)\n"
    ),
    "global": (
        "import torch\ndef f(p):\n    global n\n    n = torch.nn.utils.clip_grad_norm_(p, 1.0)\n"
    ),
    "value clipping returns nothing": "import torch\ntorch.nn.utils.clip_grad_value_(p, 1.0)\n",
    "lightning clip_gradients returns nothing": (
        "import torch\nself.clip_gradients(opt, gradient_clip_val=0.5)\n"
    ),
    "fabric without max_norm returns nothing": (
        "import torch\nfabric.clip_gradients(m, opt, clip_val=0.5)\n"
    ),
    "clip_grad_norm of an object that is not an optimizer": (
        "import torch\nclipper.clip_grad_norm(cfg.clip_norm)\n"
    ),
    "same name as keyword only": (
        "import torch\ndef f(p):\n    gn = torch.nn.utils.clip_grad_norm_(p, 1.0)\n"
        "    log(gn=1, x=obj.gn)\n    return gn\n"
    ),
}


@pytest.mark.parametrize("case", AL103_SILENT, ids=str)
def test_al103_silent(case: str) -> None:
    assert lines(UnloggedGradClip, AL103_SILENT[case]) == []


def test_al103_keyword_and_attribute_are_not_reads() -> None:
    source = (
        "import torch\ndef f(p):\n    gn = torch.nn.utils.clip_grad_norm_(p, 1.0)\n"
        "    log(gn=1, x=obj.gn)\n"
    )
    assert lines(UnloggedGradClip, source) == [3]


def test_al103_skips_test_files() -> None:
    source = "import torch\ntorch.nn.utils.clip_grad_norm_(p, 1.0)\n"
    assert lines(UnloggedGradClip, source, path="tests/test_loop.py") == []


def test_al103_helper_whatever_its_name() -> None:
    """A helper that clips and returns the norm hands the duty to its callers, whatever it
    is called: the index fact decides, not the helper's name."""
    source = """\
    import torch


    def r_item(model, max_norm):
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        return norm.item()


    def loop(model, loader, cfg):
        for b in loader:
            model(b).backward()
            r_item(model, cfg.max_norm)
            kept = r_item(model, cfg.max_norm)
            print(kept)
    """
    found = lint_source(textwrap.dedent(source), "train.py", rules=[UnloggedGradClip])
    assert [d.line for d in found] == [12]
    assert "in r_item (train.py:4), called here, is discarded" in found[0].message


def test_al103_dropped_result_of_a_helper_that_returns_no_norm_is_silent() -> None:
    source = """\
    import torch


    def apply_update(model, optimizer, max_norm):
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)  # its own finding
        optimizer.step()
        return optimizer.param_groups[0]["lr"]


    def loop(model, optimizer, loader, cfg):
        for b in loader:
            model(b).backward()
            apply_update(model, optimizer, cfg.max_norm)
    """
    assert lines(UnloggedGradClip, source) == [5]


# -- AL103 fix --------------------------------------------------------------------------

FIXABLE = {
    "python logger": (
        """\
        import logging
        import torch
        logger = logging.getLogger(__name__)
        def step(model, opt):
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        """,
        'logger.info("grad_norm=%.4f", grad_norm)',
    ),
    "lightning": (
        """\
        import torch
        import lightning as L
        class M(L.LightningModule):
            def on_before_optimizer_step(self, optimizer):
                _ = torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)
        """,
        'self.log("grad_norm", grad_norm)',
    ),
    "accelerate tracker": (
        """\
        def loop(accelerator, model, cfg):
            accelerator.init_trackers("run")
            for batch in range(3):
                norm = accelerator.clip_grad_norm_(model.parameters(), cfg.clip)
        """,
        'accelerator.log({"grad_norm": float(norm)})',
    ),
    "fabric": (
        """\
        def loop(fabric, model, opt):
            fabric.clip_gradients(model, opt, max_norm=1.0)
            fabric.log("loss", 1.0)
        """,
        'fabric.log("grad_norm", grad_norm)',
    ),
    "wandb": (
        """\
        import torch
        import wandb
        def loop(p, loss):
            torch.nn.utils.clip_grad_norm_(p, 1.0)
            wandb.log({"loss": loss})
        """,
        'wandb.log({"grad_norm": float(grad_norm)})',
    ),
    "tensorboard with step": (
        """\
        import torch
        def loop(p, writer, loss, step):
            writer.add_scalar("loss", loss, global_step=step)
            torch.nn.utils.clip_grad_norm_(p, 1.0)
        """,
        'writer.add_scalar("grad_norm", grad_norm, step)',
    ),
    "fresh name": (
        """\
        import logging
        import torch
        log = logging.getLogger("train")
        def step(p, grad_norm):
            torch.nn.utils.clip_grad_norm_(p, grad_norm)
        """,
        'log.info("grad_norm=%.4f", total_grad_norm)',
    ),
}


@pytest.mark.parametrize("case", FIXABLE, ids=str)
def test_al103_fix(case: str) -> None:
    source, log_line = FIXABLE[case]
    source = textwrap.dedent(source)
    (finding,) = lint_source(source, "train.py", rules=[UnloggedGradClip])
    assert finding.fix is not None and finding.fix.applicability == "unsafe"
    safe_only = apply_fixes(source, "train.py", rules=[UnloggedGradClip])
    assert safe_only.source == source  # unsafe fixes need asking for
    result = apply_fixes(source, "train.py", rules=[UnloggedGradClip], unsafe=True)
    assert result.applied == 1
    assert log_line in result.source
    cst.parse_module(result.source)
    compile(result.source, "fixed.py", "exec")
    assert lint_source(result.source, "train.py", rules=[UnloggedGradClip]) == []
    again = apply_fixes(result.source, "train.py", rules=[UnloggedGradClip], unsafe=True)
    assert again.source == result.source and again.applied == 0


def test_al103_fix_keeps_indentation_and_position() -> None:
    source, _ = FIXABLE["python logger"]
    result = apply_fixes(textwrap.dedent(source), rules=[UnloggedGradClip], unsafe=True)
    assert result.source.splitlines()[4:7] == [
        "    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
        '    logger.info("grad_norm=%.4f", grad_norm)',
        "    opt.step()",
    ]


NOT_FIXABLE = {
    "no logger in scope": "import torch\ndef f(p):\n    torch.nn.utils.clip_grad_norm_(p, 1.0)\n",
    "accelerator without trackers": "def f(accelerator, p):\n    accelerator.clip_grad_norm_(p)\n",
    "one-line suite": (
        "import logging, torch\nlogger = logging.getLogger()\n"
        "if ok: torch.nn.utils.clip_grad_norm_(p, 1.0)\n"
    ),
    "two statements on the line": (
        "import logging, torch\nlogger = logging.getLogger()\n"
        "x = 1; torch.nn.utils.clip_grad_norm_(p, 1.0)\n"
    ),
}


@pytest.mark.parametrize("case", NOT_FIXABLE, ids=str)
def test_al103_no_fix_without_a_logger(case: str) -> None:
    (finding,) = lint_source(NOT_FIXABLE[case], "train.py", rules=[UnloggedGradClip])
    assert finding.fix is None
