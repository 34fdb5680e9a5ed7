"""What a violation does: raise, warn, log or nothing, by check and by severity.

Default: an error does what ``on_violation`` says ("raise" by default), a warning warns
(or logs, under ``on_violation="log"``), an info is logged at INFO. ``on_severity`` and
then ``on_check`` override that. Every finding stays in its step's report; only what is
printed is deduplicated: the first finding of one check at one site is warned or logged,
later ones are counted (``Policy.counts``) and logged at DEBUG, so a sink present on every
step does not bury the rest of the output.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

from attnlint.guard.config import Action, GuardConfig
from attnlint.records import Violation

logger = logging.getLogger("attnlint.guard")


class Policy:
    def __init__(
        self,
        config: GuardConfig,
        error: type[Exception],
        warning: type[Warning],
    ) -> None:
        self.config = config
        self._error = error
        self._warning = warning
        self.counts: dict[tuple[str, str], int] = {}

    def action(self, v: Violation) -> Action:
        cfg = self.config
        if v.check in cfg.on_check:
            return cfg.on_check[v.check]
        if v.severity in cfg.on_severity:
            return cfg.on_severity[v.severity]
        if v.severity == "error":
            return cfg.on_violation
        if v.severity == "warning":
            return "log" if cfg.on_violation == "log" else "warn"
        return "log"

    def handle(self, violations: Sequence[Violation]) -> None:
        """Raise (with every raising violation of the step), after printing the others."""
        raising = []
        for v in violations:
            act = self.action(v)
            if act == "ignore":
                continue
            if act == "raise":
                raising.append(v)
                continue
            key = (v.check, v.site)
            n = self.counts.get(key, 0) + 1
            self.counts[key] = n
            if n > 1:
                logger.debug("%s (seen %d times at this site)", v.message, n)
            elif act == "warn":
                warnings.warn(
                    f"{v.message} (repeats at this site are counted, not shown)",
                    self._warning,
                    stacklevel=4,
                )
            else:
                level = logging.INFO if v.severity == "info" else logging.WARNING
                logger.log(level, v.message)
        if raising:
            raise self._error(raising)

    def repeated(self) -> dict[tuple[str, str], int]:
        """(check, site) -> findings not shown because an earlier one was."""
        return {k: n - 1 for k, n in self.counts.items() if n > 1}
