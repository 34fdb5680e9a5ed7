"""[tool.attnlint]: discovery, validation (one-line errors, exit 2), and precedence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest
from pydantic import BaseModel, ConfigDict

from attnlint.cli import main
from attnlint.config import ConfigError, Selection, load_config, resolve_codes
from attnlint.lint.rule import Rule
from attnlint.lint.rules import all_rules

BAD = "import torch\nopt = torch.optim.Adam(params, lr=1e-3)\n"


class _LimitOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_literal: int = 10
    names: list[str] = []


class _BigNumber(Rule):
    code = "XX950"
    name = "test-big-number"
    summary = "an integer literal above the configured limit"
    triggers = ("",)
    Options = _LimitOptions

    def visit_Integer(self, node: cst.Integer) -> None:
        if int(node.value) > self.options.max_literal:
            self.report(node, f"{node.value} > {self.options.max_literal}")


@pytest.fixture
def option_rule() -> Iterator[None]:
    catalogue = all_rules()
    catalogue[_BigNumber.code] = _BigNumber
    try:
        yield
    finally:
        catalogue.pop(_BigNumber.code, None)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(BAD)
    return tmp_path


def _pyproject(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.attnlint]\n{body}\n")


def _check(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("selec = ['AL1']", "pyproject.toml: [tool.attnlint] unknown key 'selec'"),
        ("select = 'AL101'", "pyproject.toml: [tool.attnlint] 'select'"),
        ("select = ['AL999']", "unknown rule code 'AL999'"),
        ("ignore = ['XYZ']", "unknown rule code 'XYZ'"),
        ("per-file-ignores = { 'tests/*' = ['AL777'] }", "'AL777'"),
        ("exclude = 3", "'exclude'"),
        ("[tool.attnlint.guard]\nevry = 2", "[tool.attnlint.guard] unknown key 'evry'"),
        ("[tool.attnlint.guard]\nevery = 0", "[tool.attnlint.guard] 'every'"),
        ("[tool.attnlint.guard]\non-violation = 'explode'", "'on-violation'"),
        ("select = [", "invalid TOML"),
    ],
)
def test_bad_config_is_one_line_exit_2(project: Path, capsys, body: str, message: str) -> None:
    _pyproject(project, body)
    code, _, err = _check(capsys, "src")
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("attnlint: ")
    assert message in err


def test_rule_options_table_is_validated_by_the_rules_model(project, capsys, option_rule) -> None:
    _pyproject(project, "[tool.attnlint.test-big-number]\nmax-literl = 3")
    code, _, err = _check(capsys, "src")
    assert code == 2
    assert "[tool.attnlint.test-big-number] unknown key 'max-literl'" in err
    _pyproject(project, "[tool.attnlint.test-big-number]\nmax-literal = 'many'")
    assert _check(capsys, "src")[0] == 2


def test_rule_options_reach_the_rule(project, capsys, option_rule) -> None:
    (project / "src" / "n.py").write_text("x = 50\n")
    assert _check(capsys, "src/n.py", "--select", "XX950", "--no-cache")[0] == 1
    _pyproject(project, "[tool.attnlint.test-big-number]\nmax-literal = 100")
    assert _check(capsys, "src/n.py", "--select", "XX950", "--no-cache")[0] == 0
    # The cache is keyed by the options: the stricter limit must not reuse the lenient result.
    assert _check(capsys, "src/n.py", "--select", "XX950")[0] == 0
    _pyproject(project, "[tool.attnlint.test-big-number]\nmax-literal = 20")
    assert _check(capsys, "src/n.py", "--select", "XX950")[0] == 1


def test_select_ignore_and_cli_precedence(project: Path, capsys) -> None:
    _pyproject(project, "ignore = ['AL101']")
    assert _check(capsys, "src")[0] == 0
    # A --select on the command line comes after the file's ignore.
    assert _check(capsys, "src", "--select", "AL101")[0] == 1
    _pyproject(project, "select = ['AL3']")
    assert _check(capsys, "src")[0] == 0
    assert _check(capsys, "src", "--extend-select", "AL1")[0] == 1
    assert _check(capsys, "src", "--extend-select", "AL1", "--ignore", "AL")[0] == 0


def test_per_file_ignores(project: Path, capsys) -> None:
    (project / "tests").mkdir()
    (project / "tests" / "test_x.py").write_text(BAD)
    _pyproject(project, "per-file-ignores = { 'tests/*' = ['AL101'] }")
    code, out, _ = _check(capsys, ".", "--output-format", "json")
    assert code == 1
    assert [d["path"] for d in json.loads(out)] == ["src/train.py"]


def test_exclude_and_extend_exclude(project: Path, capsys) -> None:
    (project / "gen").mkdir()
    (project / "gen" / "g.py").write_text(BAD)
    _pyproject(project, "extend-exclude = ['gen/', 'src/train.py']")
    assert _check(capsys, ".")[0] == 0
    # A file named on the command line is always checked (pre-commit passes names).
    assert _check(capsys, "gen/g.py")[0] == 1


def test_config_flag_with_attnlint_toml(project: Path, capsys) -> None:
    (project / "other.toml").write_text("ignore = ['AL101']\n")
    (project / "attnlint.toml").write_text("ignore = ['AL101']\n")
    assert _check(capsys, "src")[0] == 0  # found by walking up
    (project / "attnlint.toml").write_text("select = ['AL101']\n")
    assert _check(capsys, "src")[0] == 1
    assert _check(capsys, "src", "--config", "other.toml")[0] == 0
    (project / "other.toml").write_text("selec = ['AL101']\n")
    code, _, err = _check(capsys, "src", "--config", "other.toml")
    assert code == 2
    assert err.strip() == "attnlint: other.toml: unknown key 'selec' (did you mean 'select'?)"


def test_config_found_from_first_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    _pyproject(tmp_path / "a", "ignore = ['AL1']")
    monkeypatch.chdir(tmp_path)
    config = load_config(start=sub)
    assert config.path == tmp_path / "a" / "pyproject.toml"
    assert config.root == (tmp_path / "a").resolve()
    assert config.settings.ignore == ["AL1"]


def test_pyproject_without_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert load_config(start=tmp_path).path is None


def test_guard_table(project: Path) -> None:
    _pyproject(project, "[tool.attnlint.guard]\nevery = 5\non-violation = 'warn'")
    config = load_config(start=project)
    assert config.guard.every == 5
    assert config.guard.on_violation == "warn"


def test_resolve_codes_layers() -> None:
    codes = set(all_rules())
    assert set(resolve_codes([])) == codes | {"AL000", "AL001"}
    assert resolve_codes([Selection(select=["AL101"])]) == ["AL000", "AL001", "AL101"]
    assert "AL000" not in resolve_codes([Selection(ignore=["AL000"])])
    assert "AL001" in resolve_codes([Selection(ignore=["AL000"])])
    later = resolve_codes([Selection(ignore=["AL101"]), Selection(select=["AL1"])])
    assert "AL101" in later


def test_config_error_is_exception_type() -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Path("does-not-exist.toml"))
