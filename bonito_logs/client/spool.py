"""The local spool: where accepted records wait on disk while Kafka cannot take them.

Layout: ``<spool_path>/<writer>/<seq>.seg`` where ``<writer>`` is one folder per
running client (``<time_ns>-<pid>-<random>``) holding a ``lock`` file that the
client keeps ``flock``-ed while it lives. A client that starts claims the folders
whose lock it can take (their writer is gone) and replays them before its own
records, so a restarted service finds what its previous process left.

A segment is ``MAGIC`` followed by frames::

    <u32 payload length> <u32 crc32(payload)> payload = <u16 key length> <key> <value>

Writes go through a buffered file (cheap on the emit path) and are fsynced
periodically and on close. A frame cut short by a crash, or one whose CRC does
not match, ends the readable part of its segment: the rest is skipped and
reported, never delivered half-read.

Not thread-safe by itself: the outbox serialises every call under its lock,
except ``read_segment`` (a pure function over a sealed file).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import struct
import time
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("bonito_logs.client")

MAGIC = b"BLSPOOL1"
FRAME_HEADER = struct.Struct("<IIH")  # payload length, crc32, key length (first 2 payload bytes)
_KEY_LEN = struct.Struct("<H")
_LEN_CRC = struct.Struct("<II")
_PREFIX = 8  # length + crc, before the payload
_FIRST_SEQ = 1_000_000_000  # room below for segments written before older ones (see prepend)
_LOCK = "lock"
_SUFFIX = ".seg"

Record = tuple[bytes, bytes]


def sync_fd(fd: int) -> None:
    """fsync and close a dup'ed descriptor (from ``flush_buffers``); errors are logged."""
    try:
        os.fsync(fd)
    except OSError as exc:
        log.warning("spool fsync failed: %s", exc)
    finally:
        os.close(fd)


def frame(key: bytes, value: bytes) -> bytes:
    """One spool frame for (key, value)."""
    cached = _prefixes.get(key)
    if cached is None:  # keys are org ids: few, repeated; cache their prefix and its CRC
        prefix = _KEY_LEN.pack(len(key)) + key
        cached = (prefix, zlib.crc32(prefix))
        if len(_prefixes) < _PREFIX_CACHE_MAX:
            _prefixes[key] = cached
    prefix, prefix_crc = cached
    return _LEN_CRC.pack(len(prefix) + len(value), zlib.crc32(value, prefix_crc)) + prefix + value


_prefixes: dict[bytes, tuple[bytes, int]] = {}
_PREFIX_CACHE_MAX = 10_000


@dataclass
class SegmentRead:
    records: list[Record]
    skipped_bytes: int = 0  # unreadable tail (torn write or corruption)
    reason: str = ""


def read_segment(path: Path) -> SegmentRead:
    """Every intact frame of a segment, in order; stops at the first torn or corrupt frame."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        return SegmentRead([], len(data), "not a spool segment (bad magic)" if data else "")
    records: list[Record] = []
    pos, end = len(MAGIC), len(data)
    crc32 = zlib.crc32
    while pos < end:
        if end - pos < FRAME_HEADER.size:
            return SegmentRead(records, end - pos, "torn frame header")
        length, crc, klen = FRAME_HEADER.unpack_from(data, pos)
        start = pos + _PREFIX
        stop = start + length
        if length < 2 or stop > end:
            return SegmentRead(records, end - pos, "torn frame (length past end of file)")
        if crc32(data[start:stop]) != crc:
            return SegmentRead(records, end - pos, "CRC mismatch")
        if 2 + klen > length:
            return SegmentRead(records, end - pos, "bad key length")
        records.append((data[start + 2:start + 2 + klen], data[start + 2 + klen:stop]))
        pos = stop
    return SegmentRead(records)


@dataclass(eq=False)
class Segment:
    """One segment file. ``own``: written by this client (its records count for flush)."""

    path: Path
    seq: int
    own: bool
    writer: WriterDir
    records: int = -1  # known for own segments; -1 when written by another process
    size: int = 0


@dataclass(eq=False)
class WriterDir:
    path: Path
    lock_fd: int
    own: bool
    live: set[Segment] = field(default_factory=set)  # segments not yet deleted


class Spool:
    """Append-only segments under ``root``, with a byte cap and crash-safe replay order."""

    def __init__(self, root: Path, *, max_bytes: int, segment_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.is_open = False
        self.bytes = 0  # on disk (and buffered) across every live segment
        self.appended = 0  # records written by this client, ever
        self._own: WriterDir | None = None
        self._sealed: deque[Segment] = deque()  # readable, not yet handed out, oldest first
        self._out: set[Segment] = set()  # handed to the sender, not yet released
        self._active: Segment | None = None
        self._file = None
        self._next_seq = _FIRST_SEQ
        self._dirty = False
        self._unsynced: list[int] = []  # dup'ed fds of sealed segments awaiting fsync

    # -- lifecycle -----------------------------------------------------------------
    def open(self) -> None:
        """Create this client's writer folder and claim every abandoned one."""
        self.root.mkdir(parents=True, exist_ok=True)
        claimed = self._claim_abandoned()
        # Create under a dot-name then rename, so nobody claims it before we hold its lock.
        name = f"{time.time_ns():019d}-{os.getpid()}-{secrets.token_hex(3)}"
        tmp = self.root / f".{name}"
        tmp.mkdir()
        fd = os.open(tmp / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(tmp, self.root / name)
        self._own = WriterDir(self.root / name, fd, own=True)
        for writer in claimed:
            for seg in self._segments_of(writer):
                self._sealed.append(seg)
                writer.live.add(seg)
                self.bytes += seg.size
            if not writer.live:
                self._remove_writer(writer)
        self.is_open = True
        if self._sealed:
            log.info("spool %s: replaying %d segment(s), %d bytes, left by an earlier client",
                     self.root, len(self._sealed), self.bytes)

    def _claim_abandoned(self) -> list[WriterDir]:
        out = []
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                fd = os.open(entry / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # its writer is alive (or another client claimed it first)
                os.close(fd)
                continue
            out.append(WriterDir(entry, fd, own=False))
        return out

    def _segments_of(self, writer: WriterDir) -> list[Segment]:
        segs = []
        for p in writer.path.glob("*" + _SUFFIX):
            try:
                seq = int(p.name[: -len(_SUFFIX)])
                size = p.stat().st_size
            except (ValueError, OSError):
                continue
            segs.append(Segment(p, seq, own=False, writer=writer, size=size))
        segs.sort(key=lambda s: s.seq)
        return segs

    def close(self) -> None:
        """Flush and fsync, release every lock; this client's empty folder is removed."""
        if not self.is_open:
            return
        self._seal_active(fsync=True)
        for fd in self.flush_buffers():
            sync_fd(fd)
        writers = {s.writer for s in self._sealed} | {s.writer for s in self._out}
        if self._own is not None:
            writers.add(self._own)
        for writer in writers:
            if writer.live:
                os.close(writer.lock_fd)  # left for the next client to claim
            else:
                self._remove_writer(writer)
        self._own = None
        self._sealed.clear()
        self._out.clear()
        self.bytes = 0
        self.is_open = False

    # -- writing -------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """True while any record on disk is not yet acknowledged (new records must queue here)."""
        return bool(self._sealed or self._out or self._active is not None)

    def append(self, key: bytes, value: bytes) -> bool:
        """Append one record; False (nothing written) when the byte cap would be exceeded."""
        data = frame(key, value)
        if self.bytes + len(data) > self.max_bytes:
            return False
        seg = self._active
        if seg is None:
            seg = self._start_segment()
        self._file.write(data)
        seg.size += len(data)
        seg.records += 1
        self.bytes += len(data)
        self.appended += 1
        self._dirty = True
        if seg.size >= self.segment_bytes:
            self._seal_active(fsync=False)
        return True

    def _start_segment(self, seq: int | None = None) -> Segment:
        own = self._own
        if seq is None:
            seq = self._next_seq
            self._next_seq += 1
        path = own.path / f"{seq:012d}{_SUFFIX}"
        self._file = open(path, "wb", buffering=256 * 1024)  # noqa: SIM115 - closed on seal
        self._file.write(MAGIC)
        seg = Segment(path, seq, own=True, writer=own, records=0, size=len(MAGIC))
        own.live.add(seg)
        self.bytes += len(MAGIC)
        self._active = seg
        return seg

    def _seal_active(self, *, fsync: bool) -> None:
        seg = self._active
        if seg is None:
            return
        f = self._file
        f.flush()
        if fsync:
            os.fsync(f.fileno())
        else:
            self._unsynced.append(os.dup(f.fileno()))
        f.close()
        self._file = None
        self._active = None
        self._dirty = False
        self._sealed.append(seg)

    def prepend(self, records: Iterable[Record]) -> tuple[int, int]:
        """Write records that are OLDER than everything in this client's segments.

        Used on close for what was still in memory: they go into a segment numbered
        before this client's others, so replay keeps acceptance order. Returns
        (written, dropped by the byte cap).
        """
        own = self._own
        seqs = [s.seq for s in own.live] if own else []
        active, f_saved = self._active, self._file
        self._active = None
        written = dropped = 0
        seg = None
        for key, value in records:
            data = frame(key, value)
            if self.bytes + len(data) > self.max_bytes:
                dropped += 1
                continue
            if seg is None:
                seg = self._start_segment(min(seqs, default=self._next_seq) - 1)
            self._file.write(data)
            seg.size += len(data)
            seg.records += 1
            self.bytes += len(data)
            written += 1
        if seg is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._sealed.appendleft(seg)
        self._active, self._file = active, f_saved
        self.appended += written
        return written, dropped

    def flush_buffers(self) -> list[int]:
        """Push buffered writes to the OS; returns dup'ed fds to fsync (and close) off the lock."""
        fds, self._unsynced = self._unsynced, []
        if self._dirty and self._file is not None:
            self._file.flush()
            self._dirty = False
            fds.append(os.dup(self._file.fileno()))
        return fds

    # -- reading -------------------------------------------------------------------
    def has_unread(self) -> bool:
        return bool(self._sealed) or (self._active is not None and self._active.records > 0)

    def next_segment(self) -> Segment | None:
        """The oldest segment not yet handed out; seals the active one if nothing else is left."""
        if not self._sealed and self._active is not None and self._active.records > 0:
            self._seal_active(fsync=False)
        if not self._sealed:
            return None
        seg = self._sealed.popleft()
        self._out.add(seg)
        return seg

    def release(self, seg: Segment) -> None:
        """Every record of ``seg`` is acknowledged: delete it (and its folder when emptied)."""
        self._out.discard(seg)
        seg.writer.live.discard(seg)
        with contextlib.suppress(FileNotFoundError):
            seg.path.unlink()
        self.bytes -= seg.size
        if not seg.writer.own and not seg.writer.live:
            self._remove_writer(seg.writer)

    def _remove_writer(self, writer: WriterDir) -> None:
        with contextlib.suppress(OSError):
            (writer.path / _LOCK).unlink()
        with contextlib.suppress(OSError):
            os.close(writer.lock_fd)
        with contextlib.suppress(OSError):
            writer.path.rmdir()

    def claimed_live(self) -> list[Segment]:
        return [s for s in (*self._sealed, *self._out) if not s.own]

    @property
    def own_path(self) -> Path | None:
        return self._own.path if self._own else None
