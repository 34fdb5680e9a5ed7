"""How fixes reach the disk: written into the existing file, never replacing it; a file
that cannot or may not be written is reported and left as it was; ``--diff`` output is a
patch that ``patch -p0`` applies, whatever the line endings."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from attnlint.cli import main
from attnlint.lint import fixer

SOURCE = """\
import torch


def attend(s, pad):
    return torch.softmax(s.masked_fill(pad, float("-inf")), -1)
"""
FIXED = SOURCE.replace('float("-inf")', "torch.finfo(s.dtype).min")


def _fix(path: Path, *extra: str) -> int:
    return main(["check", "--select", "AL402", "--fix", "--no-cache", *extra, str(path)])


def test_fix_writes_into_the_file_keeping_inode_mode_and_links(tmp_path: Path) -> None:
    target = tmp_path / "attend.py"
    target.write_text(SOURCE, encoding="utf-8")
    target.chmod(0o640)
    twin = tmp_path / "twin.py"
    os.link(target, twin)
    link = tmp_path / "link.py"
    link.symlink_to(target.name)
    before = target.stat()
    assert _fix(link) == 0
    assert link.is_symlink() and os.readlink(link) == target.name
    assert target.read_text(encoding="utf-8") == FIXED
    assert twin.read_text(encoding="utf-8") == FIXED  # the hard link sees the fix
    after = target.stat()
    assert after.st_ino == before.st_ino
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attend.py", "link.py", "twin.py"]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_fix_keeps_another_users_ownership(tmp_path: Path) -> None:
    target = tmp_path / "attend.py"
    target.write_text(SOURCE, encoding="utf-8")
    os.chown(target, 4321, 4321)
    assert _fix(target) == 0
    assert target.read_text(encoding="utf-8") == FIXED
    assert (target.stat().st_uid, target.stat().st_gid) == (4321, 4321)


def test_read_only_file_is_reported_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "attend.py"
    target.write_text(SOURCE, encoding="utf-8")
    target.chmod(0o444)  # read-only even for root, who could open it for writing
    assert _fix(target) == 2
    out, err = capsys.readouterr()
    assert target.read_text(encoding="utf-8") == SOURCE
    assert "read-only" in err and "attend.py" in err
    assert "All checks passed!" not in out
    assert "AL402" in out  # the finding is still reported
    assert "could not be read or written" in out


@pytest.mark.parametrize("failing_call", [1, 2])
def test_failed_write_says_so_and_keeps_the_content(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    failing_call: int,
) -> None:
    """1: the staged copy cannot be written (full disk) -> the file is never touched;
    2: writing into the file fails -> its old content is put back."""
    target = tmp_path / "attend.py"
    target.write_text(SOURCE, encoding="utf-8")
    calls = []
    real = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == failing_call:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(fixer.os, "fsync", fsync)
    assert main(["check", "--select", "AL402", "--fix", "--no-cache", "-j", "1", str(target)]) == 2
    out, err = capsys.readouterr()
    assert target.read_text(encoding="utf-8") == SOURCE
    assert "No space left on device" in err
    assert "All checks passed!" not in out and "Fixed" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attend.py"]  # no temp file left


def test_file_changed_while_fixing_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "attend.py"
    target.write_text(SOURCE + "# edited\n", encoding="utf-8")
    with pytest.raises(fixer.WriteError, match="changed on disk"):
        fixer.write_into(target, FIXED.encode(), SOURCE.encode())
    assert target.read_text(encoding="utf-8") == SOURCE + "# edited\n"


# -- --diff applies with patch -p0 ----------------------------------------------------

AMP = """\
import torch


def step(model, scaler, opt, loss, max_norm):
    scaler.scale(loss).backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(opt)
    scaler.update()
    return norm"""

STYLES = {
    "lf": ("\n", True),
    "lf, no final newline": ("\n", False),
    "crlf": ("\r\n", True),
    "crlf, no final newline": ("\r\n", False),
    "lone cr": ("\r", True),
    "lone cr, no final newline": ("\r", False),
}


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs the patch program")
@pytest.mark.parametrize("style", list(STYLES))
def test_diff_applies_with_patch(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    style: str,
) -> None:
    newline, final = STYLES[style]
    data = (AMP.replace("\n", newline) + (newline if final else "")).encode()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "step.py").write_bytes(data)
    (tmp_path / "b" / "step.py").write_bytes(data)
    monkeypatch.chdir(tmp_path / "a")
    args = ["check", "--select", "AL104", "--no-cache", "step.py"]
    assert main([*args, "--diff"]) == 1
    diff = capsys.readouterr().out
    assert diff.startswith("--- step.py\n+++ step.py\n")
    assert (tmp_path / "a" / "step.py").read_bytes() == data  # --diff writes nothing
    applied = subprocess.run(
        ["patch", "-p0", "--forward", "--batch", "--fuzz=0"],
        input=diff.encode(),
        cwd=tmp_path / "a",
        capture_output=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    monkeypatch.chdir(tmp_path / "b")
    assert main([*args, "--fix"]) == 0
    capsys.readouterr()
    patched = (tmp_path / "a" / "step.py").read_bytes()
    assert patched == (tmp_path / "b" / "step.py").read_bytes()
    assert patched.count(b"scaler.unscale_(opt)" + newline.encode()) == 1
    assert patched.endswith(newline.encode()) == final


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs the patch program")
def test_diff_of_a_file_with_a_bom_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The change is within three lines of the top: the hunk's context holds line 1."""
    data = (
        "\ufeffimport torch\ndef f(s, m):\n    return s.masked_fill(m, float('-inf')).softmax(-1)\n"
    )
    (tmp_path / "a.py").write_bytes(data.encode())
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--select", "AL402", "--no-cache", "--diff", "a.py"]) == 1
    diff = capsys.readouterr().out
    subprocess.run(
        ["patch", "-p0", "--batch", "--fuzz=0"], input=diff.encode(), check=True, cwd=tmp_path
    )
    assert (tmp_path / "a.py").read_bytes() == data.replace(
        "float('-inf')", "torch.finfo(s.dtype).min"
    ).encode()


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs the patch program")
@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-8"])
def test_diff_of_a_file_with_a_coding_cookie_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """The diff is in the file's own encoding: its lines are the bytes on disk."""
    text = (
        f"# -*- coding: {encoding} -*-\n# caf\xe9 \u20ac\nimport torch\n"
        "def f(s, m):  # r\xe9sum\xe9\n"
        "    return s.masked_fill(m, float('-inf')).softmax(-1)\n"
    )
    if encoding == "latin-1":
        text = text.replace("\u20ac", "")  # not in latin-1
    data = text.encode(encoding)
    (tmp_path / "a.py").write_bytes(data)
    cmd = [sys.executable, "-m", "attnlint.cli", "check", "--select", "AL402", "--no-cache"]
    shown = subprocess.run([*cmd, "--diff", "a.py"], cwd=tmp_path, capture_output=True)
    assert shown.returncode == 1, shown.stderr
    assert (tmp_path / "a.py").read_bytes() == data  # --diff writes nothing
    if encoding != "utf-8":
        assert "r\xe9sum\xe9".encode(encoding) in shown.stdout  # not UTF-8 text
    subprocess.run(
        ["patch", "-p0", "--batch", "--fuzz=0"], input=shown.stdout, check=True, cwd=tmp_path
    )
    patched = (tmp_path / "a.py").read_bytes()
    assert patched == text.replace("float('-inf')", "torch.finfo(s.dtype).min").encode(encoding)
    # and it is what --fix writes
    (tmp_path / "b.py").write_bytes(data)
    subprocess.run([*cmd, "--fix", "b.py"], cwd=tmp_path, capture_output=True, check=True)
    assert (tmp_path / "b.py").read_bytes() == patched
