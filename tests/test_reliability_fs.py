"""A hostile file system and careless configuration: warnings or one-line errors, no hang.

Anything that could block (a FIFO) runs ``attnlint`` in a subprocess under a timeout, so
a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from attnlint.cli import main
from attnlint.lint import cache as cache_module
from attnlint.lint.cache import CACHE_DIR, valid_entry

BAD = "import torch\nopt = torch.optim.Adam(params, lr=1e-3)\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(BAD)
    return tmp_path


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _cli(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "attnlint.cli", "check", *argv]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")


@needs_fifo
def test_fifo_named_py_is_skipped_never_opened(project: Path) -> None:
    os.mkfifo(project / "src" / "pipe.py")
    os.mkfifo(project / "named.py")
    walked = _cli(project, "src", "--output-format", "concise")
    assert walked.returncode == 1  # train.py's finding; the FIFO did not block
    assert "pipe.py: skipped: a FIFO" in walked.stderr
    named = _cli(project, "named.py")
    assert named.returncode == 0
    assert "named.py: skipped: a FIFO" in named.stderr
    assert "no Python files" in named.stderr


@needs_fifo
def test_cache_file_replaced_by_a_fifo(project: Path) -> None:
    assert _cli(project, "src").returncode == 1
    (cache,) = _cache_files(project)
    cache.unlink()
    os.mkfifo(cache)
    again = _cli(project, "src", "--output-format", "json")
    assert again.returncode == 1
    assert [d["code"] for d in json.loads(again.stdout)] == ["AL101"]
    assert cache.is_file()  # rewritten as a regular file


def test_symlink_loops_are_warnings(project: Path, capsys) -> None:
    (project / "src" / "loop.py").symlink_to(project / "src" / "loop.py")
    (project / "src" / "back").symlink_to(project / "src", target_is_directory=True)
    (project / "self.py").symlink_to(project / "self.py")
    code, out, err = _check(capsys, "src", "self.py", "--output-format", "concise")
    assert code == 1 and out.count("AL101") == 1
    assert "loop.py: skipped: symlink loop" in err
    assert "self.py: skipped: symlink loop" in err
    assert "Traceback" not in err


def test_unreadable_folder_is_a_warning(project: Path, capsys, monkeypatch) -> None:
    # root ignores chmod 000, so the refusal comes from a patched scandir.
    locked = project / "src" / "locked"
    locked.mkdir()
    (locked / "x.py").write_text(BAD)
    real = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(os.fsdecode(path)).name == "locked":  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", os.fsdecode(path))  # type: ignore[arg-type]
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = _check(capsys, "src", "--output-format", "concise", "--no-cache")
    assert code == 1 and out.count("AL101") == 1
    assert "locked: folder skipped: Permission denied" in err


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("exclude = ['[z-a]']", "exclude: bad glob '[z-a]'"),
        ("extend-exclude = ['gen/[z-a]']", "extend-exclude: bad glob 'gen/[z-a]'"),
        ("per-file-ignores = { '[z-a].py' = ['AL101'] }", "per-file-ignores: bad glob"),
        ("select = ['']", "empty rule code ''"),
        ("ignore = ['AL101', '']", "empty rule code ''"),
        ("selct = ['AL1']", "unknown key 'selct' (did you mean 'select'?)"),
        ("select = ['AL4O1']", "unknown rule code 'AL4O1' (did you mean 'AL401'?)"),
        ("select = ['hardcoded-learning-rate']", "did you mean 'AL101'?"),
        ("[tool.attnlint.hardcoded-clip-norm]\nallw = 1", "[tool.attnlint.hardcoded-clip-norm]"),
        ("[tool.attnlint.guard]\nevey = 2", "unknown key 'evey' (did you mean 'every'?)"),
    ],
)
def test_configuration_errors_name_the_file(project: Path, capsys, body: str, needle: str) -> None:
    (project / "sub").mkdir()
    (project / "sub" / "pyproject.toml").write_text(f"[tool.attnlint]\n{body}\n")
    (project / "sub" / "m.py").write_text(BAD)
    code, _, err = _check(capsys, "sub")
    assert code == 2, err
    assert err.startswith("attnlint: sub/pyproject.toml: ")  # which pyproject.toml
    assert needle in err and len(err.strip().splitlines()) == 1


def test_tool_that_is_not_a_table(project: Path, capsys) -> None:
    (project / "pyproject.toml").write_text("tool = 5\n")
    code, _, err = _check(capsys, "src")
    assert code == 2 and err.strip() == "attnlint: pyproject.toml: 'tool' must be a table (got 5)"


def test_bad_glob_on_the_command_line(project: Path, capsys) -> None:
    code, _, err = _check(capsys, "src", "--extend-exclude", "[z-a]")
    assert code == 2 and "--extend-exclude: bad glob '[z-a]'" in err


def test_empty_select_on_the_command_line(project: Path, capsys) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["check", "src", "--select", ""])
    assert raised.value.code == 2
    assert "empty rule code" in capsys.readouterr().err


def test_bad_glob_in_gitignore_is_a_warning_and_matches_nothing(project: Path, capsys) -> None:
    (project / ".git").mkdir()
    (project / ".gitignore").write_text("[z-a]\nsrc/skip.py\n")
    (project / "src" / "skip.py").write_text(BAD)
    code, out, err = _check(capsys, "src", "--output-format", "concise", "--no-cache")
    assert code == 1 and "train.py" in out and "skip.py" not in out  # the good line holds
    assert ".gitignore: pattern '[z-a]' is not a valid glob" in err


def test_dot_attnlint_toml_is_found_first(project: Path, capsys) -> None:
    (project / "pyproject.toml").write_text("[tool.attnlint]\nignore = ['AL101']\n")
    assert _check(capsys, "src")[0] == 0
    (project / "attnlint.toml").write_text("select = ['AL101']\n")
    assert _check(capsys, "src")[0] == 1
    (project / ".attnlint.toml").write_text("ignore = ['AL1']\n")
    assert _check(capsys, "src")[0] == 0
    (project / ".attnlint.toml").write_text("ignor = ['AL1']\n")
    code, _, err = _check(capsys, "src")
    assert code == 2 and ".attnlint.toml: unknown key 'ignor' (did you mean 'ignore'?)" in err


def test_config_flag_takes_a_tool_table_in_any_toml(project: Path, capsys) -> None:
    (project / "ci.toml").write_text("[tool.attnlint]\nignore = ['AL101']\n")
    assert _check(capsys, "src", "--config", "ci.toml")[0] == 0
    (project / "ci.toml").write_text("ignore = ['AL101']\n")
    assert _check(capsys, "src", "--config", "ci.toml")[0] == 0


def test_empty_selection_is_a_warning_exit_0(project: Path, capsys) -> None:
    (project / "empty").mkdir()
    code, _, err = _check(capsys, "empty")
    assert code == 0
    assert "warning: no Python files found" in err


def test_same_text_different_path_is_not_one_cache_answer(project: Path, capsys) -> None:
    # Tests pin learning rates on purpose: AL101 is quiet under tests/.
    (project / "tests").mkdir()
    (project / "tests" / "test_train.py").write_text(BAD)
    first = _check(capsys, "tests", "--output-format", "json")
    assert json.loads(first[1]) == []
    (project / "train.py").write_text(BAD)
    second = _check(capsys, "train.py", "--output-format", "json")
    assert [d["code"] for d in json.loads(second[1])] == ["AL101"]
    again = _check(capsys, "tests", "--output-format", "json")
    assert json.loads(again[1]) == []


def _cache_files(project: Path) -> list[Path]:
    """The findings' entries, one file per checked file (not the index's summaries)."""
    return sorted((project / CACHE_DIR).glob("*.entries/*/*.json"))


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda entry: "not a list",
        lambda entry: [{"code": "AL101"}],
        lambda entry: [{**entry[0], "line": "3"}],
        lambda entry: [{**entry[0], "fix": ["x"]}],
        lambda entry: [5],
        lambda entry: {"a": entry},
        lambda entry: "[" * 100_000 + "]" * 100_000,
        lambda entry: "[{not json",
    ],
    ids=[
        "not-a-list",
        "missing-keys",
        "string-line",
        "bad-fix",
        "not-a-dict",
        "object",
        "deep",
        "torn",
    ],
)
def test_malformed_cache_entries_are_misses_and_rewritten(project: Path, capsys, corrupt) -> None:
    expected = _check(capsys, "src", "--output-format", "json")[1]
    assert _cache_files(project)
    for cache in _cache_files(project):
        bad = corrupt(json.loads(cache.read_text()))
        cache.write_text(bad if isinstance(bad, str) and bad[:1] in "[{" else json.dumps(bad))
    for _ in range(2):  # this run and every later one
        code, out, err = _check(capsys, "src", "--output-format", "json")
        assert (code, out, err) == (1, expected, "")
    for cache in _cache_files(project):
        assert valid_entry(json.loads(cache.read_text()))


def test_old_entries_are_pruned_per_shard(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cache_module, "MAX_ENTRIES", 3 * 256)  # three per shard
    cache = cache_module.Cache(tmp_path, "k")
    for i in range(5):
        cache.put(f"00{i:030x}", [])
    cache.save()
    shard = cache.entry_file("00" + "0" * 30).parent
    assert len(list(shard.glob("*.json"))) == 3
    for old in shard.glob("*.json"):
        os.utime(old, ns=(1, 1))
    fresh = cache_module.Cache(tmp_path, "k")
    fresh.put("00" + "f" * 30, [])
    fresh.save()
    kept = sorted(p.stem for p in shard.glob("*.json"))
    assert len(kept) == 3 and "00" + "f" * 30 in kept  # the newest stays
    assert cache_module.Cache(tmp_path, "k").get("00" + "f" * 30) == []


def test_concurrent_runs_share_a_cache_correctly(project: Path) -> None:
    for i in range(30):
        (project / "src" / f"m{i:02d}.py").write_text(BAD if i % 2 else "x = 1\n")
    cmd = [sys.executable, "-m", "attnlint.cli", "check", "src", "--output-format", "json"]
    runs = [subprocess.Popen(cmd, cwd=project, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [1] * 4
    assert len({json.dumps(json.loads(o)) for o in outputs}) == 1
    assert len(json.loads(outputs[0])) == 16
    final = _cli(project, "src", "--output-format", "json")
    assert json.loads(final.stdout) == json.loads(outputs[0])
