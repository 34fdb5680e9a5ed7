"""Validated settings kept between runs: a changed, corrupted or unwritable entry is
validated again, and what is kept is exactly what validation gave."""

from __future__ import annotations

from pathlib import Path

import pytest

from attnlint import config_cache
from attnlint.config import ConfigError, load_config


def _entries(root: Path) -> list[Path]:
    return sorted((root / ".attnlint_cache" / "settings").glob("*.json"))


def _validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from attnlint.config_model import LintSettings

    calls: list[int] = []
    real = LintSettings.model_validate.__func__  # type: ignore[attr-defined]

    def counted(cls, obj, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(cls, obj, *args, **kwargs)

    monkeypatch.setattr(LintSettings, "model_validate", classmethod(counted))
    return calls


def test_settings_are_validated_once_per_content(tmp_path: Path, monkeypatch) -> None:
    calls = _validations(monkeypatch)
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text('[tool.attnlint]\nignore = ["AL3"]\nper-file-ignores = {"t/*" = ["AL1"]}\n')
    first = load_config(start=tmp_path)
    again = load_config(start=tmp_path)
    assert calls == [1] and again.settings == first.settings
    assert again.settings.per_file_ignores == {"t/*": ["AL1"]}
    cfg.write_text('[tool.attnlint]\nignore = ["AL4"]\n')  # a new table: validated again
    assert load_config(start=tmp_path).settings.ignore == ["AL4"] and calls == [1, 1]
    assert len(_entries(tmp_path)) == 2
    load_config(start=tmp_path, cache=False)  # --no-cache: neither read nor written
    assert calls == [1, 1, 1] and len(_entries(tmp_path)) == 2


@pytest.mark.parametrize("junk", [b"", b"{", b'{"values": {"ignore": []}, "sum": "x"}', b"[]"])
def test_a_corrupted_entry_is_validated_again(tmp_path: Path, monkeypatch, junk: bytes) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.attnlint]\nignore = ["AL3"]\n')
    load_config(start=tmp_path)
    (entry,) = _entries(tmp_path)
    entry.write_bytes(junk)
    calls = _validations(monkeypatch)
    assert load_config(start=tmp_path).settings.ignore == ["AL3"] and calls == [1]
    assert load_config(start=tmp_path).settings.ignore == ["AL3"] and calls == [1]  # rewritten


def test_errors_and_rule_tables_are_never_kept(tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text('[tool.attnlint]\nignore = "AL3"\n')
    for _ in range(2):
        with pytest.raises(ConfigError, match="ignore"):
            load_config(start=tmp_path)
    rule = "[tool.attnlint.AL101]\nflag-constants = true\n"
    cfg.write_text('[tool.attnlint]\nignore = ["AL3"]\n' + rule)
    calls = _validations(monkeypatch)
    for _ in range(2):
        assert load_config(start=tmp_path).rule_options["AL101"].flag_constants is True
    assert calls == [1, 1] and _entries(tmp_path) == []


def test_an_unwritable_cache_folder_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.attnlint]\nignore = ["AL3"]\n')
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    assert load_config(start=tmp_path, cache=blocker).settings.ignore == ["AL3"]
    assert config_cache.load(blocker, {"ignore": ["AL3"]}, ("ignore",)) is None
