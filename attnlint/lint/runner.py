"""Many files through the engine: cache look-up, then a process pool for what is left.

The parent reads and hashes every file (that is all a warm run does); files missing from
the cache are linted, fixed or diffed in worker processes when there are enough of them
to pay for the pool, else in this process. Workers get the enabled codes and option
values, never rule objects, so the work item is a path and the answer is plain data.
"""

from __future__ import annotations

import contextlib
import difflib
import multiprocessing
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from attnlint.lint.cache import Cache, Entry, config_key, content_key, from_entry, to_entry
from attnlint.lint.diagnostic import Diagnostic

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
    diff: str = ""
    error: str | None = None
    summary: dict[str, Any] | None = None  # the project index's summary, when parsed
    decided: list[Diagnostic] = field(default_factory=list)  # pending findings that held

    def diagnostics(self) -> list[Diagnostic]:
        return from_entry(self.entry, self.display) + self.decided


@dataclass(slots=True)
class RunResult:
    files: list[FileResult]
    diagnostics: list[Diagnostic]
    applied: int = 0
    diffs: list[str] = field(default_factory=list)
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


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding to write it back with (PEP 263 cookies honoured)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        import io
        import tokenize

        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding), encoding


def write_atomic(path: Path, text: str, encoding: str) -> None:
    """Temp file in the same folder, then ``os.replace``: a reader never sees half a file."""
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode(encoding))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def process(item: tuple[Path, str]) -> FileResult:
    """Lint (or fix, or diff) one file. Runs in a worker or in the parent."""
    from attnlint.lint.engine import analyse
    from attnlint.lint.fixer import apply_fixes

    assert _state is not None
    path, display = item
    rules, options, job = _state
    result = FileResult(path, display)
    try:
        data = path.read_bytes()
        source, encoding = decode(data)
    except OSError as exc:
        result.error = f"{display}: cannot read: {exc.strerror or exc}"
        return result
    except (UnicodeDecodeError, LookupError, SyntaxError) as exc:
        # Python could not read it either: a finding on the file, not a failure of the run.
        result.key = content_key(data)
        what = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        broken = Diagnostic("AL000", f"cannot decode source: {what}", display, 1, 1, 1, 1)
        result.entry = to_entry([broken]) if "AL000" in job.codes else []
        return result
    result.key = content_key(data)
    if job.mode == "check":
        found = analyse(source, display, rules, options, job.check_syntax, resolve=False)
        _keep(result, found)
        return result
    ignored = job.per_file.codes_for(path)
    file_rules = [r for r in rules if not any(r.code.startswith(c) for c in ignored)]
    fixed = apply_fixes(source, display, file_rules, options, unsafe=job.unsafe)
    result.applied = fixed.applied
    if fixed.source != source and job.mode == "diff":
        result.diff = "".join(
            difflib.unified_diff(
                source.splitlines(keepends=True),
                fixed.source.splitlines(keepends=True),
                fromfile=display,
                tofile=display,
            )
        )
        found = analyse(source, display, rules, options, job.check_syntax, resolve=False)
        _keep(result, found)
        return result
    if fixed.source != source:
        try:
            write_atomic(path, fixed.source, encoding)
        except OSError as exc:
            result.error = f"{display}: cannot write: {exc.strerror or exc}"
            result.applied = 0
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


def _pool_context() -> Any:
    # fork shares the already-imported rules and libcst with the workers for free.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


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
        from attnlint.lint.rules import all_rules

        rules = all_rules()
        options = {
            c: rules[c].Options.model_validate(v) for c, v in job.options.items() if c in rules
        }
        cache = Cache(cache_dir, config_key(job.codes, options, job.check_syntax))
    done: list[FileResult] = []
    todo: list[tuple[Path, str]] = []
    cached = 0
    for path, display in items:
        if cache is None:
            todo.append((path, display))
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            done.append(FileResult(path, display, error=f"{display}: cannot read: {exc.strerror}"))
            continue
        key = content_key(data)
        entry = cache.get(key)
        # A cached fixable finding has no edits: --fix / --diff must lint the file again.
        if entry is not None and (job.mode == "check" or not any(e["fix"] for e in entry)):
            done.append(FileResult(path, display, key, entry))
            cached += 1
        else:
            todo.append((path, display))
    done.extend(_run_todo(todo, job, jobs))
    if cache is not None:
        for result in done:
            if result.key is not None and result.error is None:
                cache.put(result.key, result.entry)
                if result.summary is not None:
                    cache.put_summary(result.key, result.summary)
    from attnlint.lint.resolve import decide_pending

    decide_pending(done, job, cache, cwd)
    if cache is not None:
        cache.save()
    return _collect(done, job, cached)


def _run_todo(todo: list[tuple[Path, str]], job: Job, jobs: int | None) -> list[FileResult]:
    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    workers = min(workers, max(1, len(todo) // MIN_FILES_PER_WORKER))
    if workers == 1:
        _setup(job)
        return [process(item) for item in todo]
    chunk = max(1, min(32, len(todo) // (workers * 8)))
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=_pool_context(), initializer=_setup, initargs=(job,)
    ) as pool:
        return list(pool.map(process, todo, chunksize=chunk))


def _collect(results: list[FileResult], job: Job, cached: int) -> RunResult:
    results.sort(key=lambda r: r.display)
    diagnostics: list[Diagnostic] = []
    out = RunResult(results, diagnostics, cached=cached)
    for result in results:
        if result.error is not None:
            out.errors.append(result.error)
            continue
        out.applied += result.applied
        if result.diff:
            out.diffs.append(result.diff)
        for diagnostic in result.diagnostics():
            if not job.per_file.drops(result.path, diagnostic.code):
                diagnostics.append(diagnostic)
    enabled = set(job.codes)
    out.diagnostics = [d for d in diagnostics if d.code in enabled]
    return out
