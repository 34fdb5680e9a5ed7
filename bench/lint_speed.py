"""Lint speed: attnlint against the floor (a bare libcst parse) and against Fixit/TorchFix.

    python bench/lint_speed.py [CORPUS] [--limit N] [--skip-fixit] [--subset N]
                               [--only-start-up] [--no-bytecode-cache]
                               [--entry-point SCRIPT]

CORPUS defaults to the installed ``transformers`` package (else this repository). Prints
files/s and seconds for each contender, then the ratios the targets are stated in. The
attnlint runs are subprocesses of the real CLI (start-up included), with a throw-away
cache folder, on a tree of symlinks to the corpus (so that one file can be changed); the
bare parse is an in-process single-process loop over the same files. The project index
is on in every run; "one changed file" is a pre-commit run: the CLI on one modified file
of the warm project, whose imports are summarised from the cache.
Fixit and TorchFix run on the first ``--subset`` files (they are much slower), next to a
bare parse of that subset. ``--only-start-up`` fills the cache once and measures only the
two pre-commit figures (one changed file, one small file).

The attnlint runs are the command the pre-commit hook runs (``attnlint check``, the
console script beside this interpreter). An installed hook has its modules compiled to
bytecode (pip does it), so the runs keep a bytecode cache (``PYTHONPYCACHEPREFIX``, in
the throw-away folder) even where the environment says not to write one
(``PYTHONDONTWRITEBYTECODE``, which an editable install would otherwise pay for on every
start); ``--no-bytecode-cache`` runs with the environment as it is. ``--entry-point``
runs another installed ``attnlint`` script, e.g. that of a virtual environment holding
only attnlint and its dependencies, as pre-commit builds for the hook (the interpreter's
own start-up there skips the ``.pth`` work of a crowded environment).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def default_corpus() -> Path:
    try:
        import transformers
    except ImportError:
        return REPO
    return Path(transformers.__file__).resolve().parent


def corpus_files(root: Path, limit: int | None) -> list[Path]:
    from attnlint.lint.discovery import Discovery

    files = Discovery(root=root).files([root])
    return files[:limit] if limit else files


def link_corpus(files: list[Path], root: Path, into: Path) -> Path:
    """A --limit subset as a tree of symlinks, so every tool sees exactly these files."""
    for path in files:
        target = into / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path)
    return into


ENTRY_POINT: Path | None = None  # --entry-point


def entry_point() -> list[str]:
    """What the pre-commit hook runs (``entry: attnlint check``): ``--entry-point``, else
    the console script installed beside this interpreter, else ``python -m attnlint.cli``."""
    if ENTRY_POINT is not None:
        return [str(ENTRY_POINT)]
    script = Path(sys.executable).parent / "attnlint"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "attnlint.cli"]


ENV = dict(os.environ)


def timed(argv: list[str], cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start, done.returncode


def bare_parse(files: list[Path]) -> float:
    import libcst as cst

    start = time.perf_counter()
    for path in files:
        # The floor counts the attempt, whatever libcst thinks of the file.
        with contextlib.suppress(Exception):
            cst.parse_module(path.read_bytes())
    return time.perf_counter() - start


def attnlint(
    corpus: Path, cache: Path, *extra: str, paths: list[str] | None = None
) -> tuple[float, int]:
    """``attnlint check`` of the whole corpus, or of ``paths`` (relative to it)."""
    argv = [*entry_point(), "check", *(paths or [str(corpus)])]
    argv.append("--exit-zero")
    argv += ["--output-format", "concise", "--cache-dir", str(cache), *extra]
    return timed(argv, cwd=corpus)


def precommit_round(corpus: Path, cache: Path, relative: Path, n: int) -> float:
    """Change one file of the warm project (a new last line) and check just that file."""
    path = corpus / relative
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    path.unlink()  # a symlink into the corpus: replace it by an edited copy
    path.write_text(f"{text}\n# edit {n}\n", encoding="utf-8", errors="surrogateescape")
    seconds, _ = attnlint(corpus, cache, paths=[str(relative)])
    return seconds


def row(name: str, seconds: float, n: int, note: str = "") -> None:
    print(f"{name:<36} {seconds:8.2f} s  {n / seconds:8.1f} files/s  {note}")


def whole_tree(corpus: Path, cache: Path, files: list[Path], n: int) -> None:
    """The whole-corpus rows and ratios; leaves ``cache`` filled."""
    bare = bare_parse(files)
    row("bare libcst.parse_module (1 proc)", bare, n)
    cold_default, rc = attnlint(corpus, cache, "--no-cache")
    row("attnlint cold (default jobs)", cold_default, n, f"rc={rc}")
    cold_one, rc = attnlint(corpus, cache, "--no-cache", "--jobs", "1")
    row("attnlint cold (--jobs 1)", cold_one, n, f"rc={rc}")
    fill, _ = attnlint(corpus, cache)
    row("attnlint cold, filling the cache", fill, n)
    warm, rc = attnlint(corpus, cache)
    row("attnlint warm (cache)", warm, n, f"rc={rc}")

    print()
    print(f"cold(default jobs) / bare = {cold_default / bare:5.2f}x   (target <= 1.0x)")
    print(f"cold(--jobs 1)     / bare = {cold_one / bare:5.2f}x   (target <= 1.5x)")
    print(f"warm / cold(default jobs) = {100 * warm / cold_default:5.1f}%   (target <= 5%)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N files only")
    parser.add_argument("--subset", type=int, default=150, help="files for fixit/torchfix")
    parser.add_argument("--skip-fixit", action="store_true", help="skip fixit and torchfix")
    parser.add_argument("--jobs", type=int, default=None, help="default parallelism")
    parser.add_argument(
        "--only-start-up", action="store_true", help="only the one-file (pre-commit) figures"
    )
    parser.add_argument(
        "--no-bytecode-cache", action="store_true", help="the environment's bytecode setting"
    )
    parser.add_argument(
        "--entry-point",
        type=Path,
        help="the attnlint script to run, e.g. the one in a pre-commit hook's environment",
    )
    args = parser.parse_args()
    global ENTRY_POINT
    ENTRY_POINT = args.entry_point

    root = (args.corpus or default_corpus()).resolve()
    files = corpus_files(root, args.limit)
    n = len(files)
    jobs = args.jobs or os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="attnlint-bench-"))
    try:
        corpus = link_corpus(files, root, work / "corpus")
        cache = work / "cache"
        if not args.no_bytecode_cache:
            ENV.pop("PYTHONDONTWRITEBYTECODE", None)
            ENV["PYTHONPYCACHEPREFIX"] = str(work / "bytecode")
        print(f"corpus: {root.name} ({n} files), cpus: {os.cpu_count()}, default jobs: {jobs}")
        from attnlint.lint.rules import all_rules

        print(f"rules: {', '.join(all_rules())}")
        print(f"command: {' '.join(entry_point())} check ...", end="  ")
        print("(environment's bytecode setting)" if args.no_bytecode_cache else "(bytecode cached)")

        if args.only_start_up:
            fill, _ = attnlint(corpus, cache)
            row("attnlint cold, filling the cache", fill, n)
        else:
            whole_tree(corpus, cache, files, n)

        changed = files[len(files) // 2].relative_to(root)
        one_changed = min(precommit_round(corpus, cache, changed, n) for n in range(5))
        print(f"attnlint check {changed} after changing it (warm project, best of 5): "
              f"{one_changed:.3f} s   (target <= 0.3 s)")  # fmt: skip

        small = work / "small"
        small.mkdir()
        (small / "train.py").write_text(
            "import torch\n\nopt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)\n"
        )
        small_argv = [*entry_point(), "check", "train.py", "--no-cache"]
        one = min(timed(small_argv, small)[0] for _ in range(5))
        print(f"attnlint check one_small_file.py (subprocess, best of 5): {one:.3f} s"
              "   (target < 0.5 s)")  # fmt: skip

        if not args.skip_fixit:
            print()
            subset = files[: args.subset]
            sub = link_corpus(subset, root, work / "subset")
            m = len(subset)
            bare_sub = bare_parse(subset)
            row(f"bare parse, subset of {m}", bare_sub, m)
            mine, _ = attnlint(sub, cache, "--no-cache", "--jobs", "1")
            row(f"attnlint --jobs 1, subset of {m}", mine, m, f"{mine / bare_sub:.2f}x bare")
            for tool, argv in (
                ("fixit", ["fixit", "lint", str(sub)]),
                ("torchfix", ["torchfix", str(sub)]),
            ):
                if shutil.which(argv[0]) is None:
                    print(f"{tool}: not installed")
                    continue
                seconds, rc = timed(argv, cwd=sub)
                row(f"{tool}, subset of {m}", seconds, m, f"{seconds / bare_sub:.2f}x bare rc={rc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
