"""Command line: argument parsing and dispatch only.

Importing this module must stay cheap and torch-free: a pre-commit hook starts it for
every commit. Each sub-command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from attnlint import __version__
from attnlint.argtypes import positive_int

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
FORMATS = ("full", "concise", "json", "sarif", "github")


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"attnlint: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _codes(text: str) -> list[str]:
    codes = [part.strip().upper() for part in text.split(",") if part.strip()]
    if not codes:  # `--select ""` would otherwise select nothing without a word
        raise argparse.ArgumentTypeError(f"empty rule code {text!r}")
    return codes


OWN_COMMANDS = ("check", "rule", "rules", "docs")


def build_parser(with_report: bool = True) -> argparse.ArgumentParser:
    """``with_report=False`` leaves out report/plot/demo: their module imports pydantic
    records, which a pre-commit run of ``check`` need not pay for."""
    parser = _Parser(
        prog="attnlint",
        description="Catch the causes of a collapsing attention model, before and during the run.",
    )
    parser.add_argument("--version", action="version", version=f"attnlint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser("check", help="lint Python files and Jupyter notebooks")
    check.add_argument("paths", nargs="*", type=Path, help="files or folders (default: .)")
    check.add_argument("--select", type=_codes, help="comma-separated codes or prefixes")
    check.add_argument("--extend-select", type=_codes, help="codes to enable as well")
    check.add_argument("--ignore", type=_codes, help="codes or prefixes to disable")
    check.add_argument("--exclude", type=lambda s: s.split(","), help="replace the excludes")
    check.add_argument("--extend-exclude", type=lambda s: s.split(","), help="more excludes")
    check.add_argument("--output-format", choices=FORMATS, default="full")
    check.add_argument("--statistics", action="store_true", help="count findings per code")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    check.add_argument("--config", type=Path, help="pyproject.toml or attnlint.toml to use")
    check.add_argument("--no-cache", action="store_true", help="ignore and keep no cache")
    check.add_argument(
        "--cache-dir", type=Path, help="where to keep the cache (default: the project root)"
    )
    check.add_argument("--jobs", "-j", type=positive_int, help="worker processes (default: CPUs)")
    check.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    check.add_argument("--unsafe-fixes", action="store_true", help="also apply unsafe fixes")
    check.add_argument("--diff", action="store_true", help="print fixes as a diff, write nothing")
    check.add_argument("--verbose", "-v", action="store_true", help="tracebacks of internal errors")
    check.set_defaults(handler=_check)

    rule = sub.add_parser("rule", help="show a rule's page")
    rule.add_argument("code")
    rule.set_defaults(handler=_rule)

    docs = sub.add_parser(
        "docs",
        help="show a guide (attention-collapse, guard, integrations, linting, ...)",
        description="Show one of attnlint's guides in the terminal; without NAME, list them.",
    )
    docs.add_argument("name", nargs="?", metavar="NAME", help="a guide, e.g. attention-collapse")
    docs.set_defaults(handler=_docs)

    rules = sub.add_parser("rules", help="list the rules")
    rules.add_argument("--output-format", choices=("table", "json"), default="table")
    rules.set_defaults(handler=_rules)

    if with_report:
        try:
            from attnlint.report.commands import register
        except ImportError:
            register = None
        if register is not None:
            register(sub)
    return parser


def _check(args: argparse.Namespace) -> int:
    from attnlint.config import (
        ConfigError,
        Selection,
        check_patterns,
        check_selectors,
        load_config,
    )
    from attnlint.lint.cache import CACHE_DIR
    from attnlint.lint.discovery import Discovery, DiscoveryError
    from attnlint.lint.output import render, statistics, summary, use_color
    from attnlint.lint.runner import Job, PerFileIgnores, run

    paths: list[Path] = args.paths or [Path(".")]
    try:
        cache: Path | bool = False if args.no_cache else (args.cache_dir or True)
        config = load_config(args.config, start=paths[0], cache=cache)
        for flag in ("select", "extend_select", "ignore"):
            check_selectors(getattr(args, flag) or [], f"--{flag.replace('_', '-')}: ")
        for flag in ("exclude", "extend_exclude"):
            check_patterns(getattr(args, flag) or [], f"--{flag.replace('_', '-')}: ")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    from attnlint.config import resolve_codes

    settings = config.settings
    codes = resolve_codes(
        [
            Selection(settings.select, settings.extend_select, settings.ignore),
            Selection(args.select, args.extend_select or (), args.ignore or ()),
        ]
    )
    discovery = Discovery(
        root=config.root,
        exclude=args.exclude if args.exclude is not None else settings.exclude,
        extend_exclude=[*settings.extend_exclude, *(args.extend_exclude or [])],
    )
    try:
        files = discovery.files(paths)
    except DiscoveryError as exc:
        raise UsageError(str(exc)) from None
    for warning in discovery.warnings:
        sys.stderr.write(f"attnlint: warning: {warning}\n")
    if not files:
        # As ruff: nothing to check is worth a word, but it is not a failure.
        sys.stderr.write("attnlint: warning: no Python files found under the given paths\n")
    mode = "diff" if args.diff else "fix" if args.fix else "check"
    job = Job(
        codes=codes,
        options={c: o.model_dump() for c, o in config.rule_options.items()},
        per_file=PerFileIgnores(config.root, settings.per_file_ignores),
        mode=mode,
        unsafe=args.unsafe_fixes,
        check_syntax="AL000" in codes,
    )
    cache_dir = None if args.no_cache else (args.cache_dir or config.root / CACHE_DIR)
    result = run(files, job, cache_dir, jobs=args.jobs)
    for error in result.errors:
        sys.stderr.write(f"attnlint: {error}\n")
    if args.verbose:
        for failed in result.files:
            if failed.trace:
                sys.stderr.write(failed.trace)
    out = sys.stdout
    if mode == "diff":
        _write_bytes(out, b"".join(result.diffs))
        n = len(result.diffs)
        sys.stderr.write(f"{n} file{'s' if n != 1 else ''} would be changed.\n")
        return EXIT_USAGE if result.errors else (EXIT_FINDINGS if n else EXIT_CLEAN)
    color = use_color(out)
    diagnostics = result.diagnostics
    if args.statistics:
        out.write(statistics(diagnostics))
    else:
        out.write(render(args.output_format, diagnostics, color, codes))
    if args.output_format in ("full", "concise") and not args.statistics:
        if mode == "fix" and result.applied:
            out.write(f"Fixed {result.applied} error{'s' if result.applied != 1 else ''}.\n")
        out.write(summary(diagnostics, color, failed=len(result.errors)))
    if result.errors:
        return EXIT_USAGE
    if diagnostics and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _write_bytes(out: TextIO, data: bytes) -> None:
    """Bytes as they are (a diff is in each file's own encoding), through the text
    stream's buffer when it has one."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(data.decode("utf-8", "surrogateescape"))
        return
    out.flush()
    buffer.write(data)
    buffer.flush()


def _rule(args: argparse.Namespace) -> int:
    from attnlint.lint.output import rule_catalogue
    from attnlint.lint.pages import rule_page

    code = args.code.upper()
    if code not in rule_catalogue():
        raise UsageError(f"unknown rule code {args.code!r} (see `attnlint rules`)")
    page = rule_page(code)
    if page is None:
        raise UsageError(f"no page for {code}: the rule catalogue is not installed")
    _show(page)
    return EXIT_CLEAN


def _docs(args: argparse.Namespace) -> int:
    from attnlint.lint.pages import guide, guides

    known = guides()
    if not known:
        raise UsageError("the guides are not installed with this copy of attnlint")
    if args.name is None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="attnlint guides: attnlint docs NAME", title_justify="left")
        table.add_column("NAME", no_wrap=True)
        table.add_column("about")
        for name, title in known.items():
            table.add_row(name, title)
        Console(highlight=False).print(table)
        return EXIT_CLEAN
    if re.fullmatch(r"AL\d{3}", args.name.upper()):
        return _rule(argparse.Namespace(code=args.name))
    text = guide(args.name)
    if text is None:
        raise UsageError(f"unknown guide {args.name!r} (guides: {', '.join(known)})")
    _show(text)
    return EXIT_CLEAN


def _show(page: str) -> None:
    """A page rendered for the terminal (headings, tables, code), without test markers."""
    from rich.console import Console
    from rich.markdown import Markdown

    from attnlint.lint.pages import for_reading

    console = Console(highlight=False)
    if not console.is_terminal and console.width == 80 and "COLUMNS" not in os.environ:
        console.width = 100  # piped: rich would assume 80 columns and wrap the tables early
    console.print(Markdown(for_reading(page), code_theme="ansi_dark", hyperlinks=False))


def _rules(args: argparse.Namespace) -> int:
    from attnlint.lint.rules import all_rules

    rows = [(code, rule.name, rule.summary, _has_fix(rule)) for code, rule in all_rules().items()]
    if args.output_format == "json":
        import json

        keys = ("code", "name", "summary", "fixable")
        sys.stdout.write(json.dumps([dict(zip(keys, row, strict=True)) for row in rows]) + "\n")
        return EXIT_CLEAN
    from rich.console import Console
    from rich.table import Table

    table = Table(title="attnlint rules")
    for column in ("code", "name", "summary", "fixable"):
        table.add_column(column, no_wrap=column != "summary")
    for code, name, summary, fixable in rows:
        table.add_row(code, name, summary, "yes" if fixable else "")
    Console().print(table)
    return EXIT_CLEAN


def _has_fix(rule: type) -> bool:
    """A rule is fixable when it says so, or when its page has a ``## Fix`` section."""
    flag = getattr(rule, "fixable", None)
    if isinstance(flag, bool):
        return flag
    from attnlint.lint.pages import rule_page

    page = rule_page(rule.code) or ""  # type: ignore[attr-defined]
    return "```python fixed" in page


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(with_report=not argv or argv[0] not in OWN_COMMANDS)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(handler(args))
    except UsageError as exc:
        sys.stderr.write(f"attnlint: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_CLEAN
    except Exception as exc:  # a bug of ours: exit 2 (1 would read as "findings")
        if getattr(args, "verbose", False):
            import traceback

            traceback.print_exc()
        what = f"{type(exc).__name__}: {exc}".splitlines()[0]
        sys.stderr.write(f"attnlint: internal error: {what} (run with --verbose for details)\n")
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
