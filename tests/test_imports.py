"""The split between the halves: the CLI and the linter never import torch."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import attnlint.cli",
        "import attnlint.cli; attnlint.cli.build_parser()",
        "import attnlint.lint.engine, attnlint.lint.runner, attnlint.lint.fixer, attnlint.config",
        "from attnlint.lint.rules import all_rules; all_rules()",
        "import attnlint.guard.config",
    ],
)
def test_static_half_never_imports_torch(statement: str) -> None:
    loaded = _modules_after(statement)
    assert "torch" not in loaded


def test_cli_import_is_cheap() -> None:
    loaded = _modules_after("import attnlint.cli")
    # libcst, pydantic and rich are imported by the sub-command that needs them.
    assert not {"libcst", "rich", "torch", "matplotlib"} & loaded


def test_guard_config_never_imports_libcst() -> None:
    assert "libcst" not in _modules_after("import attnlint.guard")


def test_checking_a_file_never_imports_torch(tmp_path) -> None:
    target = tmp_path / "train.py"
    target.write_text("import torch\nopt = torch.optim.Adam(p, lr=1e-3)\n")
    code = (
        "import sys\nfrom attnlint.cli import main\n"
        f"rc = main(['check', {str(target)!r}, '--no-cache', '--output-format', 'json'])\n"
        "assert rc == 1, rc\nassert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert '"AL101"' in done.stdout


def test_guard_exports_resolve() -> None:
    # lazy exports: a typo in the table would only show when a user imports the name
    import attnlint.guard as guard

    for name in guard.__all__:
        assert getattr(guard, name) is not None, name


def test_rule_codes_without_importing_a_rule() -> None:
    code = (
        "import sys\nfrom attnlint.config import rule_codes\ncodes = rule_codes()\n"
        "assert 'attnlint.lint.rules' not in sys.modules and 'libcst' not in sys.modules\n"
        "from attnlint.lint.rules import all_rules\nassert codes == list(all_rules()), codes\n"
        "assert rule_codes() == codes\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _after_check(cwd, *argv: str) -> tuple[int, set[str]]:  # type: ignore[no-untyped-def]
    code = (
        "import sys\nfrom attnlint.cli import main\n"
        f"rc = main(['check', *{list(argv)!r}])\n"
        "open('modules.txt', 'w').write(' '.join(sys.modules))\nraise SystemExit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)
    return done.returncode, set((cwd / "modules.txt").read_text().split())


def test_a_one_file_run_starts_no_worker_and_a_cached_one_no_parser(tmp_path) -> None:
    (tmp_path / "train.py").write_text("import torch\nopt = torch.optim.Adam(p, lr=1e-3)\n")
    rc, loaded = _after_check(tmp_path, "train.py", "--output-format", "concise")
    assert rc == 1 and "libcst" in loaded  # linted, in this process
    # no rule options set: the rules' option classes stay plain, pydantic is not needed
    assert "multiprocessing" not in loaded and "pydantic" not in loaded
    # unchanged since: the cache answers, and neither libcst nor pydantic is imported
    rc, loaded = _after_check(tmp_path, "train.py", "--output-format", "concise")
    assert rc == 1
    assert not {"libcst", "pydantic", "attnlint.lint.rules", "multiprocessing"} & loaded
    # a configuration file is validated with pydantic the first time it is seen; the next
    # run takes its validated settings and the results from the cache: neither is imported
    (tmp_path / "pyproject.toml").write_text('[tool.attnlint]\nignore = ["AL3"]\n')
    rc, loaded = _after_check(tmp_path, "train.py", "--output-format", "concise")
    assert rc == 1 and "pydantic" in loaded
    rc, loaded = _after_check(tmp_path, "train.py", "--output-format", "concise")
    assert rc == 1 and not {"pydantic", "libcst"} & loaded
    (tmp_path / "pyproject.toml").write_text('[tool.attnlint]\nignore = "AL3"\n')
    rc, loaded = _after_check(tmp_path, "train.py")
    assert rc == 2  # and its errors are still reported
