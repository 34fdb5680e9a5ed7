"""Many files through the engine: cache look-up, then the files that are left.

The parent reads and hashes every file (that is all a warm run does); files missing from
the cache are linted, fixed or diffed in supervised worker processes (one, or more when
there are enough files to pay for them), so that a crash of libcst's native parser costs
that one file (AL001), not the run. A run with few files to lint (pre-commit passes the
changed ones) lints in the parent each file that ``attnlint.lint.isolation`` calls plain,
saving the worker's start. Workers get the enabled codes and option values, never rule
objects, so the work item is a path and the answer is plain data.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from attnlint.lint.cache import (
    Cache,
    Entry,
    config_key,
    content_key,
    entry_key,
    from_entry,
    to_entry,
)
from attnlint.lint.diagnostic import Diagnostic
from attnlint.lint.encoding import decode, decode_tolerant, source_encoding
from attnlint.lint.isolation import IN_PROCESS_FILES, why_isolated
from attnlint.lint.safeio import describe, read_regular

__all__ = ["Job", "PerFileIgnores", "decode", "decode_tolerant", "run", "source_encoding"]

Mode = Literal["check", "fix", "diff"]

# Below this many files to lint, a pool costs more (start-up, pickling) than it saves.
MIN_FILES_PER_WORKER = 8


@dataclass(slots=True)
class PerFileIgnores:
    """``per-file-ignores``: gitignore-style patterns (relative to ``root``) -> codes."""

    root: Path
    table: dict[str, list[str]] = field(default_factory=dict)
    _specs: list[tuple[Any, tuple[str, ...]]] | None = None

    def codes_for(self, path: Path) -> set[str]:
        if not self.table:
            return set()
        if self._specs is None:
            import pathspec

            self._specs = [
                (
                    pathspec.GitIgnoreSpec.from_lines([pattern]),
                    tuple(c.upper() for c in codes),
                )
                for pattern, codes in self.table.items()
            ]
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            rel = path.name
        out: set[str] = set()
        for spec, codes in self._specs:
            if spec.match_file(rel):
                out.update(codes)
        return out

    def drops(self, path: Path, code: str) -> bool:
        codes = self.codes_for(path)
        return any(code.startswith(c) or c == "ALL" for c in codes)


@dataclass(slots=True)
class Job:
    """Everything a worker needs; picklable."""

    codes: list[str]
    options: dict[str, dict[str, Any]]
    per_file: PerFileIgnores
    mode: Mode = "check"
    unsafe: bool = False
    check_syntax: bool = True


@dataclass(slots=True)
class FileResult:
    path: Path
    display: str
    key: str | None = None  # content hash of the text the findings belong to
    entry: Entry = field(default_factory=list)
    applied: int = 0
    # The file's bytes in its own encoding; a notebook's text (its JSON is UTF-8).
    diff: bytes | str = b""
    error: str | None = None
    trace: str = ""  # the traceback of an internal error, shown with --verbose
    summary: dict[str, Any] | None = None  # the project index's summary, when parsed
    decided: list[Diagnostic] = field(default_factory=list)  # pending findings that held

    def diagnostics(self) -> list[Diagnostic]:
        return from_entry(self.entry, self.display) + self.decided


@dataclass(slots=True)
class RunResult:
    files: list[FileResult]
    diagnostics: list[Diagnostic]
    applied: int = 0
    diffs: list[bytes] = field(default_factory=list)  # each as patch -p0 takes it
    errors: list[str] = field(default_factory=list)
    cached: int = 0


_state: tuple[list[Any], dict[str, Any], Job] | None = None


def _setup(job: Job) -> None:
    """Rule classes and validated options, built once per process."""
    global _state
    from attnlint.lint.rules import all_rules

    rules = all_rules()
    active = [rules[c] for c in job.codes if c in rules]
    options = {
        code: rules[code].Options.model_validate(values)
        for code, values in job.options.items()
        if code in rules
    }
    _state = (active, options, job)


def setup_for(job: Job) -> tuple[list[Any], dict[str, Any]]:
    """The rule classes and validated options of ``job``, built once per process."""
    if _state is None or _state[2] is not job:
        _setup(job)
    assert _state is not None
    return _state[0], _state[1]


def process(item: tuple[Path, str], data: bytes | None = None) -> FileResult:
    """Lint (or fix, or diff) one file (``data``: its bytes, when already read). Runs in a
    worker or, for a plain file, in the parent."""
    from attnlint.lint.engine import analyse

    assert _state is not None
    path, display = item
    rules, options, job = _state
    result = FileResult(path, display)
    try:
        data = read_regular(path) if data is None else data
        if path.suffix == ".ipynb":
            from attnlint.lint import notebook

            return notebook.process(result, data, job, rules, options)
        source, encoding, lossy = decode_tolerant(data)
    except OSError as exc:
        result.error = f"{display}: cannot read: {describe(exc)}"
        return result
    except (UnicodeDecodeError, LookupError, SyntaxError) as exc:
        # Python could not read it either: a finding on the file, not a failure of the run.
        from attnlint.lint.engine import syntax_diagnostic

        result.key = content_key(data)
        what = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        broken = syntax_diagnostic(data, display) or Diagnostic(
            "AL000", f"cannot decode source: {what}", display, 1, 1, 1, 1
        )
        result.entry = to_entry([broken]) if "AL000" in job.codes else []
        return result
    result.key = content_key(data)
    if job.mode == "check" or lossy:
        found = analyse(source, display, rules, options, job.check_syntax, resolve=False, data=data)
        _keep(result, found)
        return result
    from attnlint.lint.fixer import WriteError, apply_fixes, unified_diff_bytes, write_into

    ignored = job.per_file.codes_for(path)
    file_rules = [r for r in rules if not any(r.code.startswith(c) for c in ignored)]
    fixed = apply_fixes(source, display, file_rules, options, unsafe=job.unsafe)
    result.applied = fixed.applied
    if fixed.source != source and job.mode == "diff":
        # The bytes --fix would write, against those on disk: patch compares bytes.
        result.diff = unified_diff_bytes(data, fixed.source.encode(encoding), display)
        found = analyse(source, display, rules, options, job.check_syntax, resolve=False)
        _keep(result, found)
        return result
    if fixed.source != source:
        try:
            write_into(path, fixed.source.encode(encoding), data)
        except WriteError as exc:
            # Reported, with the findings of the file as it still is.
            result.error = f"{display}: {exc}"
            result.applied = 0
            found = analyse(source, display, rules, options, job.check_syntax, resolve=False)
            _keep(result, found)
            return result
        result.key = content_key(fixed.source.encode(encoding))
    # Remaining findings for the file as it now is, with every rule (the cache stores the
    # unfiltered findings; per-file-ignores are applied when reporting).
    found = analyse(fixed.source, display, rules, options, job.check_syntax, resolve=False)
    _keep(result, found)
    return result


def _keep(result: FileResult, found: Any) -> None:
    """Findings, pending findings (decided after all files) and the file's summary."""
    result.entry = to_entry(found.diagnostics) + [p.to_json() for p in found.pending]
    result.summary = found.summary.to_json() if found.summary is not None else None


def _display(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


def run(
    files: Sequence[Path],
    job: Job,
    cache_dir: Path | None,
    jobs: int | None = None,
    cwd: Path | None = None,
) -> RunResult:
    """Check ``files``; ``cache_dir`` None disables the cache."""
    cwd = (cwd or Path.cwd()).resolve()
    items = [(path, _display(path, cwd)) for path in files]
    cache: Cache | None = None
    if cache_dir is not None:
        options: dict[str, Any] = {}
        if job.options:  # the rules are imported only when there are options to validate
            from attnlint.lint.rules import all_rules

            rules = all_rules()
            options = {
                c: rules[c].Options.model_validate(v) for c, v in job.options.items() if c in rules
            }
        cache = Cache(cache_dir, config_key(job.codes, options, job.check_syntax))
    done: list[FileResult] = []
    todo: list[tuple[Path, str]] = []
    read: dict[Path, bytes] = {}  # the bytes of the files left, while they are few
    cached = 0
    for path, display in items:
        if cache is None:
            todo.append((path, display))
            continue
        try:
            data = read_regular(path)
        except OSError as exc:
            done.append(FileResult(path, display, error=f"{display}: cannot read: {describe(exc)}"))
            continue
        key = content_key(data)
        entry = cache.get(entry_key(display, key))
        # A cached fixable finding has no edits: --fix / --diff must lint the file again.
        if entry is not None and (job.mode == "check" or not any(e.get("fix") for e in entry)):
            done.append(FileResult(path, display, key, entry))
            cached += 1
        else:
            todo.append((path, display))
            if len(todo) < IN_PROCESS_FILES:
                read[path] = data
    done.extend(_run_todo(todo, job, jobs, read))
    if cache is not None:
        for result in done:
            if result.key is not None and result.error is None:
                cache.put(entry_key(result.display, result.key), result.entry)
                if result.summary is not None:
                    cache.put_summary(result.key, result.summary)
    if any("when" in e for result in done for e in result.entry):
        from attnlint.lint.resolve import decide_pending  # the index: it imports libcst

        decide_pending(done, job, cache, cwd)
    if cache is not None:
        cache.save()
    return _collect(done, job, cached)


def _run_todo(
    todo: list[tuple[Path, str]], job: Job, jobs: int | None, read: dict[Path, bytes]
) -> list[FileResult]:
    """Few files: the plain ones in this process, the others in a worker; many: workers."""
    done: list[FileResult] = []
    if len(todo) < IN_PROCESS_FILES:
        isolated = []
        for item in todo:
            data = read.get(item[0])
            if data is None:
                with contextlib.suppress(OSError):  # process() reports it
                    data = read_regular(item[0])
            if data is not None and why_isolated(item[0], data) is not None:
                isolated.append(item)
            else:
                done.append(_in_process(item, job, data))
        todo = isolated
    return done + _in_workers(todo, job, jobs)


def _in_process(item: tuple[Path, str], job: Job, data: bytes | None) -> FileResult:
    """``process`` in the parent, an exception being that file's answer as in a worker."""
    setup_for(job)
    try:
        return process(item, data)
    except Exception as exc:
        import traceback

        what = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return _internal_error(item, (what, traceback.format_exc()))


def _in_workers(todo: list[tuple[Path, str]], job: Job, jobs: int | None) -> list[FileResult]:
    if not todo:
        return []
    from attnlint.lint.workers import Supervisor

    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    workers = min(workers, max(1, len(todo) // MIN_FILES_PER_WORKER))
    chunk = max(1, min(32, len(todo) // (workers * 8)))
    supervisor: Supervisor[tuple[Path, str], FileResult] = Supervisor(
        process, _setup, job, _internal_error, _crashed, workers, chunk
    )
    return supervisor.run(todo)


def _internal_error(item: tuple[Path, str], failure: tuple[str, str]) -> FileResult:
    path, display = item
    what, trace = failure
    error = f"{display}: internal error: {what} (run with --verbose for the traceback)"
    return FileResult(path, display, error=error, trace=trace)


def _crashed(item: tuple[Path, str], why: str) -> FileResult:
    """The worker died on this file (libcst's native parser, most likely): the file is
    valid Python for all we know (compile() ran first), so it is AL001, not AL000."""
    from attnlint.lint.engine import unchecked_diagnostic

    path, display = item
    found = unchecked_diagnostic(display, f"the parser crashed: {why}")
    return FileResult(path, display, entry=to_entry([found]))


def _collect(results: list[FileResult], job: Job, cached: int) -> RunResult:
    results.sort(key=lambda r: r.display)
    diagnostics: list[Diagnostic] = []
    out = RunResult(results, diagnostics, cached=cached)
    for result in results:
        if result.error is not None:
            out.errors.append(result.error)  # an unwritable file keeps its findings
        out.applied += result.applied
        if result.diff:
            diff = result.diff
            out.diffs.append(diff.encode("utf-8") if isinstance(diff, str) else diff)
        for diagnostic in result.diagnostics():
            if not job.per_file.drops(result.path, diagnostic.code):
                diagnostics.append(diagnostic)
    enabled = set(job.codes)
    out.diagnostics = [d for d in diagnostics if d.code in enabled]
    return out
