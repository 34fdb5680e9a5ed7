"""Run logs, terminal summaries and plots. Torch-free; matplotlib is imported lazily."""

from __future__ import annotations

from attnlint.report.runlog import RunLog, RunLogError, RunLogWriter, read_run_log

__all__ = ["RunLog", "RunLogError", "RunLogWriter", "read_run_log"]
