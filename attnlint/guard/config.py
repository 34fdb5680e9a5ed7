"""GuardConfig: thresholds and sampling of the guard. Torch-free (the CLI reads it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GuardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    every: int = Field(1, ge=1, description="full statistics on one step in N")
    on_violation: Literal["raise", "warn", "log"] = "raise"
