"""The recording file itself: SQLite schema, format version, permissions, frame codec.

One file per recording (plus SQLite's ``-wal`` and ``-shm`` beside it while it is open,
which SQLite creates with the database file's own permissions). docs/recording.md is the
reference for anyone reading it without dbtop.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import zstandard

from dbtop.errors import UsageError
from dbtop.recording import codec

#: what ``meta.format`` says in every recording
FORMAT_NAME = "dbtop-recording"
#: bumped when a reader of the previous version could misread a file (docs/recording.md)
FORMAT_VERSION = 1
#: zstd level of the frames: level 3 is zstd's default, fast and within a few % of 9
ZSTD_LEVEL = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    interval_s REAL NOT NULL,
    source TEXT NOT NULL,
    dbtop_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS frames (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    run INTEGER NOT NULL,
    keyframe INTEGER NOT NULL,
    base INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS frames_at ON frames (at);
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY,
    start_at REAL NOT NULL,
    end_at REAL NOT NULL,
    reason TEXT NOT NULL
);
"""

# no checksum in the frames (SQLite checks its pages); the content size stays, the
# decompressor needs it
_compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=False)
_decompressor = zstandard.ZstdDecompressor()


def pack(document: Any) -> bytes:
    # python-zstandard's compress() leaves its result in a buffer of the worst-case size
    # (about the input's): kept as is, a 20 kB frame of a 200 kB delta holds 200 kB for as
    # long as it lives (the live history kept 900 of them: 75 MB for 6 MB of frames). The
    # copy holds what it says.
    return bytes(memoryview(_compressor.compress(codec.dumps(document))))


def unpack(data: bytes) -> Any:
    return codec.loads(_decompressor.decompress(data))


def create_private(path: Path) -> None:
    """Make sure ``path`` exists with mode 0600 before SQLite opens it (SQLite gives its
    -wal and -shm files the database file's mode, so they are private too)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def open_for_writing(path: Path) -> sqlite3.Connection:
    create_private(path)
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        fresh = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        if fresh:
            # set before the first table: lets retention give freed pages back to the disk
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        if not fresh:
            check_format(db, path)
        db.executescript(SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: not a dbtop recording ({exc})") from None
    return db


def open_for_reading(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise UsageError(f"{path}: no such recording")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        check_format(db, path)
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: not a dbtop recording ({exc})") from None
    return db


def check_format(db: sqlite3.Connection, path: Path) -> None:
    meta = read_meta(db)
    if meta.get("format") != FORMAT_NAME:
        raise UsageError(f"{path}: not a dbtop recording")
    version = meta.get("version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise UsageError(
            f"{path}: recording format {version} is newer than this dbtop reads "
            f"({FORMAT_VERSION}); upgrade dbtop"
        )


def read_meta(db: sqlite3.Connection) -> dict[str, str]:
    with contextlib.suppress(sqlite3.OperationalError):
        return dict(db.execute("SELECT key, value FROM meta").fetchall())
    return {}
