"""Shared fixtures. Kept small: most test modules build what they need themselves."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest

from attnlint.lint.diagnostic import Edit, Fix
from attnlint.lint.rule import Rule
from attnlint.lint.rules import all_rules

REPO = Path(__file__).resolve().parent.parent


class _LiteralLrForTests(Rule):
    """A throwaway fixable rule: ``fixme(lr=<literal>)`` -> ``fixme(lr=cfg.lr)`` (safe)."""

    code = "XX901"
    name = "test-fixable"
    summary = "a fixable rule that exists only in the tests"
    triggers = ("fixme",)

    def visit_Call(self, node: cst.Call) -> None:
        if not (isinstance(node.func, cst.Name) and node.func.value == "fixme"):
            return
        for arg in node.args:
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword == "lr" and isinstance(arg.value, cst.Float | cst.Integer):
                fix = Fix("use cfg.lr", (Edit(arg.value, "cfg.lr"),))
                self.report(arg.value, "literal lr", fix)


@pytest.fixture
def fixable_rule() -> Iterator[type[Rule]]:
    """Registers XX901 in the catalogue for one test (the catalogue is a cached dict)."""
    catalogue = all_rules()
    catalogue[_LiteralLrForTests.code] = _LiteralLrForTests
    try:
        yield _LiteralLrForTests
    finally:
        catalogue.pop(_LiteralLrForTests.code, None)


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PRE_COMMIT_HOME per session: the hook's venv is built from PyPI only once."""
    return Path(os.environ.get("ATTNLINT_TEST_PRE_COMMIT_HOME") or tmp_path_factory.mktemp("pch"))


_REPO = Path(__file__).resolve().parent.parent
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", "__pycache__", "*.egg-info", ".venv", "build", "dist", ".*_cache", "demo-out", "runs"
)


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once per session from a copy of the checkout (build
    outputs stay out of the checkout)."""
    pytest.importorskip("setuptools")
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(_REPO, src, ignore=_NOT_SOURCE)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(base / "out")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = (base / "out").glob("attnlint-*.whl")
    return wheel


def pytest_configure(config: pytest.Config) -> None:
    # The optional frameworks are importorskip'ed so a contributor without the dev extra
    # can still run the rest; in CI, where the README's command installs them, a missing
    # one must fail the run instead of silently skipping its end-to-end tests.
    if os.environ.get("CI"):
        import lightning  # noqa: F401
        import matplotlib  # noqa: F401
        import transformers  # noqa: F401


class SpyError(Exception):
    """Stands in for GuardError in the integration tests' spy guards."""

    def __init__(self, violations: list[object]) -> None:
        super().__init__("violation")
        self.violations = violations


def install_spy_guard(monkeypatch: pytest.MonkeyPatch, spy: type) -> type:
    """Make ``attnlint.guard.AttentionGuard`` the test's spy class (and GuardError SpyError)."""
    import attnlint.guard

    spy.instances, spy.fail_at = [], None
    # via the module dict: getattr on the lazy names would import the real guard
    monkeypatch.setitem(vars(attnlint.guard), "AttentionGuard", spy)
    monkeypatch.setitem(vars(attnlint.guard), "GuardError", SpyError)
    return spy
