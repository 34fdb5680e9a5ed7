"""Real code at scale: the standard library plus everything installed in site-packages.

Every file gets an answer, the run never stops on one, and AL000 is reported exactly for
the files CPython's own ``compile()`` rejects (the standard library ships a few on
purpose: Python 2 grammar samples, ``badsyntax_*`` test files). With ``ATTNLINT_LONG=1``
it runs over the whole corpus (over 20,000 files; see "Reliability" in
docs/benchmarks.md); the normal suite runs a fixed sample of it, rejected files included.
"""

from __future__ import annotations

import os
import sysconfig
import time
import warnings
from pathlib import Path

from attnlint.lint.discovery import Discovery
from attnlint.lint.engine import select_rules
from attnlint.lint.runner import Job, PerFileIgnores, run

LONG = os.environ.get("ATTNLINT_LONG") == "1"
SAMPLE = 60  # files of the normal suite's sample, besides the rejected ones


def _roots() -> list[Path]:
    paths = sysconfig.get_paths()
    roots = {Path(paths["stdlib"]).resolve(), Path(paths["purelib"]).resolve()}
    return sorted(roots)


def _corpus() -> list[Path]:
    files: list[Path] = []
    for root in _roots():
        # The stdlib walk skips its own site-packages (a default exclude), so no file twice.
        files += Discovery(root=root).files([root])
    if LONG:
        return files
    files.sort()
    step = max(1, len(files) // SAMPLE)
    sample = files[::step][:SAMPLE]
    # The files CPython rejects are rare: keep those of the standard library in the sample.
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    odd = [p for p in files if p.is_relative_to(stdlib) and _rejects(p.read_bytes())]
    return sorted(set(sample) | set(odd[:20]))


def _rejects(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, "m.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    return False


def test_corpus_every_file_answered_and_al000_agrees_with_cpython() -> None:
    files = _corpus()
    codes = ["AL000", "AL001", *(rule.code for rule in select_rules())]
    job = Job(codes=codes, options={}, per_file=PerFileIgnores(Path("/")))
    start = time.perf_counter()
    result = run(files, job, None, jobs=os.cpu_count(), cwd=Path("/"))
    seconds = time.perf_counter() - start
    assert result.errors == []
    assert sorted(r.path for r in result.files) == sorted(files)
    found = {r.path: {d.code for d in r.diagnostics()} for r in result.files}
    rejected = {p for p in files if _rejects(p.read_bytes())}
    assert {p for p, c in found.items() if "AL000" in c} == rejected
    unchecked = sorted(p for p, c in found.items() if "AL001" in c)
    # A file libcst cannot read stays the exception, not the rule.
    assert len(unchecked) <= max(5, len(files) // 500), unchecked[:10]
    if LONG:
        assert len(files) >= 20_000
    print(
        f"\ncorpus: {len(files)} files, {len(rejected)} rejected by CPython (AL000), "
        f"{len(unchecked)} AL001, {len(result.diagnostics)} findings, {seconds:.1f} s "
        f"with {os.cpu_count()} workers"
    )
