"""The records' own behaviour: the unsampled report made without validation."""

from __future__ import annotations

import pytest

from attnlint.records import StepReport


@pytest.mark.parametrize("loss", [None, 0.25])
def test_unsampled_report_equals_a_validated_one(loss: float | None) -> None:
    fast, checked = StepReport.unsampled(7, loss), StepReport(step=7, sampled=False, loss=loss)
    assert fast == checked
    assert repr(fast) == repr(checked)
    assert fast.model_dump_json() == checked.model_dump_json()
    assert fast.model_fields_set == checked.model_fields_set
    assert fast.model_extra == checked.model_extra == {}
    assert StepReport.model_validate_json(fast.model_dump_json()) == checked


def test_unsampled_reports_share_no_container() -> None:
    first = StepReport.unsampled(1, None)
    first.violations.append("changed")  # type: ignore[arg-type]
    first.layers["x"] = "changed"  # type: ignore[assignment]
    first.grad_norms["total"] = 1.0
    first.diagnosis.append("changed")
    second = StepReport.unsampled(2, None)
    assert second == StepReport(step=2, sampled=False)
