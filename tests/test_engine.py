"""Engine around the rules: discovery, AL000, cache, parallel runs, name resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attnlint.lint import engine
from attnlint.lint.cache import CACHE_DIR
from attnlint.lint.discovery import Discovery, DiscoveryError
from attnlint.lint.engine import lint_source, select_rules
from attnlint.lint.runner import Job, PerFileIgnores, run

BAD = "import torch\nopt = torch.optim.Adam(params, lr=1e-3)\n"


def _job(root: Path, **kw) -> Job:
    codes = ["AL000", *(rule.code for rule in select_rules())]
    return Job(codes=codes, options={}, per_file=PerFileIgnores(root), **kw)


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _rel(root: Path, paths: list[Path]) -> list[str]:
    return sorted(p.relative_to(root.resolve()).as_posix() for p in paths)


def test_discovery_skips_venvs_builds_caches_and_gitignored(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "src/a.py": "",
            "src/notes.txt": "",
            "src/gen/out.py": "",
            "build/b.py": "",
            "dist/d.py": "",
            ".git/hooks/h.py": "",
            "__pycache__/c.py": "",
            "env_custom/lib/x.py": "",
            "env_custom/pyvenv.cfg": "",
            ".venv/lib/y.py": "",
            "lib/site-packages/z.py": "",
            "ignored_dir/i.py": "",
            "src/secret.py": "",
            ".gitignore": "ignored_dir/\n",
            "src/.gitignore": "secret.py\n",
        },
    )
    found = Discovery(root=tmp_path).files([tmp_path])
    assert _rel(tmp_path, found) == ["src/a.py", "src/gen/out.py"]


def test_discovery_exclude_patterns_and_explicit_files(tmp_path: Path) -> None:
    _tree(tmp_path, {"src/a.py": "", "src/gen/out.py": "", "migrations/m.py": ""})
    d = Discovery(root=tmp_path, extend_exclude=["gen/", "migrations/m.py"])
    assert _rel(tmp_path, d.files([tmp_path])) == ["src/a.py"]
    # Named explicitly: checked even though excluded (pre-commit passes file names).
    named = d.files([tmp_path / "src" / "gen" / "out.py", tmp_path / "src"])
    assert _rel(tmp_path, named) == ["src/a.py", "src/gen/out.py"]
    # `exclude` replaces the defaults.
    _tree(tmp_path, {"build/b.py": ""})
    assert "build/b.py" in _rel(tmp_path, Discovery(root=tmp_path, exclude=[]).files([tmp_path]))


def test_discovery_of_a_root_inside_an_excluded_name(tmp_path: Path) -> None:
    # Checking an installed package works: "site-packages" above the root is not a reason.
    _tree(tmp_path, {"site-packages/pkg/m.py": ""})
    root = tmp_path / "site-packages" / "pkg"
    assert _rel(root, Discovery(root=root).files([root])) == ["m.py"]
    # also when the patterns are anchored above it (no config: the current folder)
    assert _rel(root, Discovery(root=tmp_path).files([root])) == ["m.py"]
    # but a site-packages met while walking down is skipped
    assert _rel(tmp_path, Discovery(root=tmp_path).files([tmp_path])) == []


def test_discovery_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="no such file"):
        Discovery(root=tmp_path).files([tmp_path / "nope"])


def test_names_resolved_through_import_aliases() -> None:
    src = "from torch import optim as o\nopt = o.AdamW(m.parameters(), lr=3e-4)\n"
    assert [d.code for d in lint_source(src)] == ["AL101"]


def test_syntax_error_is_al000_with_one_line_message() -> None:
    found = lint_source("import torch\ndef f(:\n    torch.optim.Adam(p, lr=1)\n", "x.py")
    assert [(d.code, d.line) for d in found] == [("AL000", 2)]
    assert "\n" not in found[0].message
    assert found[0].message.startswith("syntax error")


def test_untriggered_broken_file_needs_check_syntax() -> None:
    assert engine.analyse("x = (\n", "x.py").diagnostics == []
    found = engine.analyse("x = (\n", "x.py", check_syntax=True).diagnostics
    assert [d.code for d in found] == ["AL000"]


def test_untriggered_file_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object, **__: object) -> None:
        raise AssertionError("parsed a file without trigger words")

    monkeypatch.setattr(engine.cst, "parse_module", boom)
    assert lint_source("x = 1\nprint(x)\n") == []


def test_cache_second_run_does_not_lint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, {"a.py": BAD, "b.py": "x = 1\n", "c.py": "def f(:\n"})
    files = Discovery(root=tmp_path).files([tmp_path])
    first = run(files, _job(tmp_path), tmp_path / CACHE_DIR, jobs=1, cwd=tmp_path)
    assert (tmp_path / CACHE_DIR).is_dir()

    def boom(*_: object, **__: object) -> None:
        raise AssertionError("linted a cached file")

    monkeypatch.setattr(engine, "analyse", boom)
    second = run(files, _job(tmp_path), tmp_path / CACHE_DIR, jobs=1, cwd=tmp_path)
    assert second.cached == 3
    assert [d.to_json() for d in second.diagnostics] == [d.to_json() for d in first.diagnostics]
    assert {d.code for d in second.diagnostics} == {"AL000", "AL101"}


def test_cache_misses_on_changed_content(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.py": "x = 1\n"})
    files = [tmp_path / "a.py"]
    assert run(files, _job(tmp_path), tmp_path / CACHE_DIR, jobs=1, cwd=tmp_path).diagnostics == []
    (tmp_path / "a.py").write_text(BAD)
    result = run(files, _job(tmp_path), tmp_path / CACHE_DIR, jobs=1, cwd=tmp_path)
    assert result.cached == 0
    assert [d.code for d in result.diagnostics] == ["AL101"]


def test_corrupt_cache_is_tolerated(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.py": BAD})
    files = [tmp_path / "a.py"]
    run(files, _job(tmp_path), tmp_path / CACHE_DIR, jobs=1, cwd=tmp_path)
    entries = list((tmp_path / CACHE_DIR).glob("*.entries/*/*.json"))
    assert len(entries) == 1
    for cache_file in entries:
        cache_file.write_text("{not json")
    result = run(files, _job(tmp_path), tmp_path / CACHE_DIR, jobs=1, cwd=tmp_path)
    assert [d.code for d in result.diagnostics] == ["AL101"]
    # and it was rewritten as valid JSON
    for cache_file in entries:
        json.loads(cache_file.read_text())


def test_parallel_equals_serial(tmp_path: Path) -> None:
    files = {f"m{i:02d}.py": (BAD if i % 3 == 0 else "x = 1\n") for i in range(40)}
    files["broken.py"] = "def f(:\n"
    _tree(tmp_path, files)
    paths = Discovery(root=tmp_path).files([tmp_path])
    serial = run(paths, _job(tmp_path), None, jobs=1, cwd=tmp_path)
    parallel = run(paths, _job(tmp_path), None, jobs=2, cwd=tmp_path)
    assert [d.to_json() for d in parallel.diagnostics] == [d.to_json() for d in serial.diagnostics]
    assert len(serial.diagnostics) == 15


def test_workers_are_added_only_for_enough_files(tmp_path: Path, monkeypatch) -> None:
    from attnlint.lint import workers

    used: list[int] = []
    real = workers.Supervisor.run

    def spy(self, items):  # type: ignore[no-untyped-def]
        used.append(self.workers)
        return real(self, items)

    monkeypatch.setattr(workers.Supervisor, "run", spy)
    _tree(tmp_path, {f"m{i}.py": "x = 1\n" for i in range(4)})
    run(Discovery(root=tmp_path).files([tmp_path]), _job(tmp_path), None, jobs=4, cwd=tmp_path)
    assert used == []  # few plain files: linted in this process, no worker started
    _tree(tmp_path, {"deep.py": "x = " + "-" * 1500 + "1\n"})
    run(Discovery(root=tmp_path).files([tmp_path]), _job(tmp_path), None, jobs=4, cwd=tmp_path)
    assert used == [1]  # the one file that is not plain goes to a worker
    _tree(tmp_path, {f"n{i}.py": "x = 1\n" for i in range(40)})
    run(Discovery(root=tmp_path).files([tmp_path]), _job(tmp_path), None, jobs=2, cwd=tmp_path)
    assert used == [1, 2]


def test_non_utf8_source_with_coding_cookie(tmp_path: Path) -> None:
    text = "# -*- coding: latin-1 -*-\nimport torch\n# caf\xe9\nopt = torch.optim.SGD(p, lr=0.1)\n"
    (tmp_path / "l.py").write_bytes(text.encode("latin-1"))
    result = run([tmp_path / "l.py"], _job(tmp_path), None, jobs=1, cwd=tmp_path)
    assert result.errors == []
    assert [(d.code, d.line) for d in result.diagnostics] == [("AL101", 4)]


def test_named_folder_inside_an_ignored_folder_is_checked(tmp_path: Path) -> None:
    _tree(tmp_path, {".git/HEAD": "", ".gitignore": "versions/\n*.gen.py\n"})
    _tree(tmp_path, {"versions/pkg/m.py": "", "versions/pkg/x.gen.py": "", "versions/y.py": ""})
    root = tmp_path / "versions" / "pkg"
    # versions/ does not hide the named folder, but *.gen.py still applies inside it.
    assert _rel(root, Discovery(root=root).files([root])) == ["m.py"]
    assert _rel(tmp_path, Discovery(root=tmp_path).files([tmp_path])) == []


@pytest.mark.parametrize(
    "source",
    [
        "import torch\n\n@dec\nclass A(B):\n    def f(self, x: int = 1) -> None:\n"
        "        if x:\n            y = (1,\n  2)  # c\n        else: pass\n        return y\n",
        "x = 1\r\nif x:\r\n    y = [\r\n  2]\r\n@d\r\ndef f(a,\r\n b): return a",
        "with a as b, c:\n    try:\n        z = f'{x!r:>{w}}'\n    except E:\n        raise\n"
        "    finally:\n        del z\n# trailing",
        "",
    ],
)
def test_node_ranges_match_libcst_position_provider(source: str) -> None:
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    from attnlint.lint.positions import node_ranges

    module = cst.parse_module(source)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = list(expected)
    assert node_ranges(module, source, nodes) == dict(expected)
    # and each node alone (the hoisted statement ranges need their children's offsets)
    for node in nodes:
        assert node_ranges(module, source, [node]) == {node: expected[node]}


def test_undecodable_file_is_al000_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "bin.py").write_bytes(b"x = '\xff\xfe'\n")
    result = run([tmp_path / "bin.py"], _job(tmp_path), None, jobs=1, cwd=tmp_path)
    assert result.errors == []
    assert [(d.code, d.path) for d in result.diagnostics] == [("AL000", "bin.py")]
    assert result.diagnostics[0].message.startswith("cannot decode source")


def test_parallel_fix_writes_every_file(tmp_path: Path, fixable_rule) -> None:
    _tree(tmp_path, {f"f{i:02d}.py": "fixme(lr=0.5)\nfixme(lr=cfg.lr)\n" for i in range(24)})
    paths = Discovery(root=tmp_path).files([tmp_path])
    job = Job(codes=["AL000", "XX901"], options={}, per_file=PerFileIgnores(tmp_path), mode="fix")
    result = run(paths, job, tmp_path / CACHE_DIR, jobs=2, cwd=tmp_path)
    assert result.applied == 24 and result.diagnostics == [] and result.errors == []
    assert {p.read_text() for p in paths} == {"fixme(lr=cfg.lr)\nfixme(lr=cfg.lr)\n"}
    # the cache now holds the fixed files' results: a check is answered from it
    job.mode = "check"
    check = run(paths, job, tmp_path / CACHE_DIR, jobs=1, cwd=tmp_path)
    assert check.cached == 24 and check.diagnostics == []
