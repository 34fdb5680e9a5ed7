"""Reading an offline wandb run's own files (for the tracker and integration tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def wandb_records(run_dir: Path, wait_s: float = 60.0) -> dict[str, list[dict[str, Any]]]:
    """History rows and summary updates of an offline run, from its .wandb file.

    The file is a LevelDB-style log (a 7-byte file header, 32 KiB blocks, records framed
    by a 7-byte header and split FIRST/MIDDLE/LAST across blocks) of wandb's own protobuf
    ``Record`` messages, decoded here with wandb's generated classes: wandb >= 0.19 keeps
    its reader in the Go core, out of Python's reach.

    ``run.finish()`` returns before wandb's core process has written everything, so the
    file is read again until it holds the run's ``exit`` record (at most ``wait_s``)."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        records, done = _read(run_dir)
        if done or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def _read(run_dir: Path) -> tuple[dict[str, list[dict[str, Any]]], bool]:
    import json
    import struct

    from wandb.proto import wandb_internal_pb2

    empty: dict[str, list[dict[str, Any]]] = {"history": [], "summary": []}
    paths = list(run_dir.glob("*.wandb"))
    assert len(paths) <= 1, paths
    data = paths[0].read_bytes() if paths else b""
    if len(data) < 7:
        return empty, False  # not written yet
    assert data[:4] == b":W&B", "not a wandb transaction log"
    block, pos, pending, frames = 32768, 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if pos + 7 + length > len(data):
            break  # a record still being written
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (1, 2):  # FULL, FIRST
            pending = chunk
        elif kind in (3, 4):  # MIDDLE, LAST
            pending += chunk
        if kind in (1, 4):
            frames.append(pending)
    out, done = empty, False
    for frame in frames:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(frame)
        kind = record.WhichOneof("record_type")
        done = done or kind == "exit"
        items = {"history": lambda r: r.history.item, "summary": lambda r: r.summary.update}
        if kind in items:
            row = {
                item.key or ".".join(item.nested_key): json.loads(item.value_json)
                for item in items[kind](record)
            }
            out[kind].append(row)
    return out, done
