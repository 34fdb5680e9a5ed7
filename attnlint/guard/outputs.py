"""Outputs: where finished step reports go (the run log, experiment trackers, loggers).

The guard hands every finished *sampled* step's ``StepReport`` to each output, on the
writing rank only (rank 0 under ``torch.distributed``; the report already holds the
statistics reduced across ranks). A report holds Python floats only, never tensors: an
output can never cause a device sync of its own.

An output that wants the run's description (sites, configuration, model class, ...)
implements ``write_header(header)``; the guard calls it once, right before the first
``write``, so that sites discovered on the first sampled forward are in it.

``AttentionGuard(model, outputs=[...])`` takes any number of outputs; ``log_path=`` is a
shorthand for ``outputs=[RunLogOutput(log_path)]``. ``guard.close()`` closes every output.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from attnlint.records import StepReport


@runtime_checkable
class Output(Protocol):
    """Receives finished step reports. ``write`` is called once per sampled step."""

    def write(self, report: StepReport) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class HeaderOutput(Output, Protocol):
    """An output that also records the run's header (called once, before the first write)."""

    def write_header(self, header: Mapping[str, Any]) -> None: ...


class RunLogOutput:
    """The JSON Lines run log read by ``attnlint report`` and ``attnlint plot``.

    The file is opened on the header, not at construction, so a guard that never reaches a
    sampled step leaves no empty log behind."""

    def __init__(
        self, path: str | os.PathLike[str], *, fsync: bool = False, append: bool = True
    ) -> None:
        self.path = path
        self.fsync = fsync
        self.append = append  # False: a new run replaces the file instead of continuing it
        self._writer: Any = None  # attnlint.report.runlog.RunLogWriter once opened

    def write_header(self, header: Mapping[str, Any]) -> None:
        from attnlint.report.runlog import RunLogWriter

        if self._writer is None:
            self._writer = RunLogWriter(
                self.path, header=header, fsync=self.fsync, append=self.append
            )

    def write(self, report: StepReport) -> None:
        if self._writer is None:
            self.write_header({})
        self._writer.write(report)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class Outputs:
    """The guard's fan-out to its outputs: headers once, then every finished report."""

    def __init__(self, outputs: list[Output]) -> None:
        self.items = outputs
        self._headed: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self.items)

    def write(self, report: StepReport, header: Any) -> None:
        """``header``: a zero-argument callable, evaluated only if some output needs it."""
        made: Mapping[str, Any] | None = None
        for out in self.items:
            if id(out) not in self._headed:
                self._headed.add(id(out))
                if isinstance(out, HeaderOutput):
                    made = header() if made is None else made
                    out.write_header(made)
            out.write(report)

    def close(self) -> None:
        for out in self.items:
            out.close()
        self._headed.clear()
