"""The encoding CPython reads a source file with, and the text it reads."""

from __future__ import annotations

import codecs
import re

_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_BLANK = re.compile(rb"^[ \t\f]*(?:[#\r\n]|$)")


def source_encoding(data: bytes) -> str:
    """The encoding CPython reads ``data`` with: a UTF-8 BOM, else a PEP 263 cookie on
    the first or second line, else UTF-8. Unlike ``tokenize.detect_encoding`` it does not
    insist that those lines decode as UTF-8 first (CPython compiles ``# \\xff``).
    LookupError for an unknown codec, SyntaxError for a BOM with another cookie."""
    bom = data.startswith(b"\xef\xbb\xbf")
    head = data[3:] if bom else data
    for line in head.split(b"\n", 2)[:2]:
        match = _COOKIE.match(line)
        if match is not None:
            name = codecs.lookup(match.group(1).decode("ascii")).name
            if bom and name != "utf-8":
                raise SyntaxError(f"encoding problem: {name} with BOM")
            return "utf-8-sig" if bom else name
        if not _BLANK.match(line):
            break
    return "utf-8-sig" if bom else "utf-8"


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding to write it back with, chosen as CPython chooses (see
    ``source_encoding``); a cookie wins even when the bytes would also decode as UTF-8.
    UnicodeDecodeError for bytes that do not decode."""
    encoding = source_encoding(data)
    return data.decode(encoding), encoding


def decode_tolerant(data: bytes) -> tuple[str, str, bool]:
    """``decode``, but bytes that do not decode become U+FFFD (CPython compiles such bytes
    in a comment); the flag says so, and a fix is then never written back."""
    try:
        return (*decode(data), False)
    except UnicodeDecodeError:
        encoding = source_encoding(data)
        return data.decode(encoding, errors="replace"), encoding, True
