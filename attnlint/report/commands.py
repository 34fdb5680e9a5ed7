"""Sub-commands ``report``, ``plot`` and ``demo``; the CLI calls ``register(subparsers)``.

Importing this module must stay cheap: no torch, no matplotlib. Both are imported inside
the handlers, and their absence becomes a one-line error naming the extra to install.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from attnlint.argtypes import positive_int
from attnlint.report.runlog import RunLog, RunLogError, read_run_log

EXIT_OK = 0
EXIT_ERROR = 2


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="summarise a guard run log in the terminal",
        description="Summarise a run log written by AttentionGuard(log_path=...): violations "
        "first, then each attention site over time with its healthy range, batch statistics "
        "and gradient norms.",
    )
    p.add_argument("run_log", metavar="RUN.jsonl", help="run log written by the guard")
    p.add_argument("--site", help="show only this attention site")
    p.add_argument("--last", type=positive_int, metavar="N", help="only the last N sampled steps")
    p.add_argument(
        "--output-format",
        choices=("text", "json"),
        default="text",
        help="json: each violation (per check and site) with the static findings that "
        "explain it, linted from the sources the run log names",
    )
    p.set_defaults(handler=run_report)

    p = subparsers.add_parser(
        "plot",
        help="draw the 3x2 attention diagnostics grid from a run log",
        description="Draw the 3x2 grid of per-layer attention diagnostics (entropy, effective "
        "rank, top-k mass, max row weight, column entropy / max column sum, residual update "
        "ratio) with the healthy bands shaded and the steps with violations or NaN marked.",
    )
    p.add_argument("run_log", metavar="RUN.jsonl", help="run log written by the guard")
    p.add_argument("-o", "--output", required=True, metavar="PNG", help="image file to write")
    p.add_argument("--step", type=int, metavar="N", help="plot this sampled step only")
    p.add_argument(
        "--x",
        choices=("layer", "step"),
        help="x axis: attention site (default with 2+ sites) or training step (default "
        "with one site)",
    )
    p.set_defaults(handler=run_plot)

    p = subparsers.add_parser(
        "demo",
        help="train the reference DeepSetRank under the guard, healthy and collapsing",
        description="Train the reference DeepSetRank (encoder -> SetAttention -> scorer, "
        "ListMLE) on synthetic ranking lists under AttentionGuard. By default two runs: a "
        "healthy one, then one with a too-high learning rate whose attention collapses to "
        "one-hot. Writes healthy.jsonl/.png and collapse.jsonl/.png "
        "into --out and prints both reports.",
    )
    p.add_argument("--out", default="attnlint-demo", metavar="DIR", help="output directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--healthy", action="store_true", help="run only the healthy model")
    which.add_argument("--collapse", action="store_true", help="run only the collapsing model")
    p.add_argument("--steps", type=positive_int, default=60, metavar="N", help="training steps")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG files")
    p.set_defaults(handler=run_demo)


def _error(message: str) -> int:
    print(f"attnlint: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _load(path: str) -> RunLog | str:
    try:
        return read_run_log(path)
    except RunLogError as exc:
        return str(exc)


def run_report(args: argparse.Namespace) -> int:
    from attnlint.report.summary import make_console, render

    log = _load(args.run_log)
    if isinstance(log, str):
        return _error(log)
    if args.site is not None and args.site not in log.sites:
        known = ", ".join(log.sites) or "none"
        return _error(f"site {args.site!r} not in {log.path} (sites: {known})")
    from attnlint.report.explain import print_explanations

    if getattr(args, "output_format", "text") == "json":
        print_explanations(log, json_output=True)
        return EXIT_OK
    console = make_console()
    render(log, console, site=args.site, last=args.last)
    print_explanations(log, console=console)
    return EXIT_OK


def run_plot(args: argparse.Namespace) -> int:
    try:
        from attnlint.report.plot import PlotError, save_plot
    except ImportError:
        return _error("plotting needs matplotlib: pip install 'attnlint[plot]'")
    log = _load(args.run_log)
    if isinstance(log, str):
        return _error(log)
    try:
        save_plot(log, args.output, step=args.step, x=args.x)
    except PlotError as exc:
        return _error(str(exc))
    except (OSError, ValueError) as exc:
        # savefig: unwritable directory, or an extension matplotlib has no writer for.
        return _error(f"cannot write {args.output}: {exc}")
    print(f"wrote {args.output}")
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        return _error("the demo needs torch: pip install 'attnlint[runtime]'")
    plot = not args.no_plot
    if plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("attnlint: matplotlib missing, skipping plots (pip install 'attnlint[plot]')")
            plot = False
    from attnlint.demo.train import run_demo as train_demo

    variants = ["collapse"] if args.collapse else ["healthy"] if args.healthy else None
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _error(f"cannot create {out}: {exc.strerror or exc}")
    return train_demo(out, steps=args.steps, seed=args.seed, variants=variants, plot=plot)
