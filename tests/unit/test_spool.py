"""The spool on its own: frames, order, torn tails, claiming, prepend, the byte cap."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from bonito_logs.client.buffer import Outbox
from bonito_logs.client.spool import MAGIC, Spool, frame, read_segment


def new_spool(root: Path, *, max_bytes: int = 10**9, segment_bytes: int = 10**8) -> Spool:
    spool = Spool(root, max_bytes=max_bytes, segment_bytes=segment_bytes)
    spool.open()
    return spool


def drain(spool: Spool) -> list[tuple[bytes, bytes]]:
    """Read every segment in order and release it, as the sender does after acks."""
    out = []
    while (seg := spool.next_segment()) is not None:
        out.extend(read_segment(seg.path).records)
        spool.release(seg)
    return out


def records(n: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [(b"org-%d" % (i % 3), b"value-%06d" % i) for i in range(start, start + n)]


def segment_files(root: Path) -> list[Path]:
    return sorted(root.glob("*/*.seg"))


def test_frames_round_trip_in_order_across_segments(tmp_path):
    spool = new_spool(tmp_path, segment_bytes=200)
    recs = records(50)
    for key, value in recs:
        assert spool.append(key, value)
    assert len(segment_files(tmp_path)) > 3  # rotation happened
    assert drain(spool) == recs
    assert segment_files(tmp_path) == []  # deleted once released
    assert spool.bytes == 0 and not spool.pending
    spool.close()
    assert list(tmp_path.iterdir()) == []  # our empty folder is removed on close


def test_a_closed_spool_is_replayed_by_the_next_client_in_order(tmp_path):
    first = new_spool(tmp_path, segment_bytes=300)
    for key, value in records(40):
        first.append(key, value)
    first.close()
    second = new_spool(tmp_path)
    assert second.pending
    for key, value in records(10, start=40):  # new records queue behind the old ones
        second.append(key, value)
    assert drain(second) == records(50)
    second.close()
    assert list(tmp_path.iterdir()) == []


def test_torn_tail_after_a_crash_is_skipped(tmp_path):
    """A writer killed in the middle of a frame: the intact frames replay, the torn one is dropped."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from bonito_logs.client.spool import Spool, frame
        spool = Spool({str(tmp_path)!r}, max_bytes=10**9, segment_bytes=10**9)
        spool.open()
        for i in range(100):
            spool.append(b"k", b"v%03d" % i)
        torn = frame(b"k", b"never-complete" * 10)
        spool._file.write(torn[: len(torn) // 2])
        spool._file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (seg_path,) = segment_files(tmp_path)
    got = read_segment(seg_path)
    assert got.records == [(b"k", b"v%03d" % i) for i in range(100)]
    assert got.skipped_bytes > 0 and "torn" in got.reason
    # The dead writer's lock is free: a new client claims and replays it.
    spool = new_spool(tmp_path)
    assert [v for _, v in drain(spool)] == [b"v%03d" % i for i in range(100)]
    spool.close()


def test_crc_mismatch_stops_the_segment_there(tmp_path):
    path = tmp_path / "x.seg"
    frames = [frame(b"k", b"value-%d" % i) for i in range(5)]
    data = bytearray(MAGIC + b"".join(frames))
    corrupt_at = len(MAGIC) + len(frames[0]) + len(frames[1]) + 12  # inside frame 2's payload
    data[corrupt_at] ^= 0xFF
    path.write_bytes(bytes(data))
    got = read_segment(path)
    assert got.records == [(b"k", b"value-0"), (b"k", b"value-1")]
    assert got.reason == "CRC mismatch"
    assert got.skipped_bytes == len(data) - len(MAGIC) - len(frames[0]) - len(frames[1])


def test_a_live_writer_is_never_claimed(tmp_path):
    alive = new_spool(tmp_path)
    for key, value in records(5):
        alive.append(key, value)
    other = new_spool(tmp_path)
    assert not other.pending  # it did not take the live writer's folder
    assert other.next_segment() is None
    alive.close()
    third = new_spool(tmp_path)
    assert drain(third) == records(5)
    for s in (other, third):
        s.close()


def test_prepend_goes_before_existing_segments(tmp_path):
    spool = new_spool(tmp_path, segment_bytes=100)
    for key, value in records(10, start=10):
        spool.append(key, value)
    written, dropped = spool.prepend(records(10))
    assert (written, dropped) == (10, 0)
    spool.close()
    replay = new_spool(tmp_path)
    assert drain(replay) == records(20)
    replay.close()


def test_byte_cap_refuses_appends(tmp_path):
    spool = new_spool(tmp_path, max_bytes=len(MAGIC) + 3 * len(frame(b"org-0", b"value-000000")))
    results = [spool.append(k, v) for k, v in records(5)]
    assert results == [True, True, True, False, False]
    spool.close()


def test_outbox_spills_then_keeps_order(tmp_path):
    outbox = Outbox(Spool(tmp_path, max_bytes=10**9, segment_bytes=10**9), capacity=10,
                    drop_report_interval_s=10)
    for key, value in records(30):
        assert outbox.put(key, value)
    assert len(outbox.memory) == 10 and outbox.spooled == 20
    taken = outbox.take_memory(5)
    outbox.put(b"late", b"late")  # the spool holds records: this one must queue behind them
    assert len(outbox.memory) == 5
    rest = outbox.take_memory(100)
    spooled = []
    while (seg := outbox.next_segment()) is not None:
        spooled.extend(read_segment(seg.path).records)
        outbox.release(seg)
    assert taken + rest + spooled == records(30) + [(b"late", b"late")]
    # Spool drained and deleted: memory is used again.
    outbox.put(b"k", b"v")
    assert list(outbox.memory) == [(b"k", b"v")]
    outbox.end_session([])


def test_drops_are_counted_and_reported_once_per_interval(tmp_path, caplog):
    now = [1000.0]
    outbox = Outbox(Spool(tmp_path, max_bytes=200, segment_bytes=10**9), capacity=2,
                    drop_report_interval_s=10.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="bonito_logs.client")
    results = [outbox.put(b"k", b"x" * 50) for _ in range(20)]
    warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1
    dropped = results.count(False)
    assert dropped > 10 and outbox.dropped == dropped and outbox.emitted == 20
    now[0] += 5  # still inside the interval: no new warning
    outbox.put(b"k", b"x" * 50)
    outbox.report_drops()
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1
    now[0] += 6  # past the interval: the drops since the last report are reported once
    outbox.report_drops()
    warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 2
    # The first drop is reported at once; the rest are summed into the next report.
    assert "dropped 1 record(s) (1 in total)" in warnings[0].getMessage()
    assert f"dropped {dropped} record(s) ({dropped + 1} in total)" in warnings[1].getMessage()
    outbox.end_session([])


def test_a_spool_folder_that_cannot_be_created_means_drops_not_errors(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    outbox = Outbox(Spool(blocker / "spool", max_bytes=10**9, segment_bytes=10**9), capacity=1,
                    drop_report_interval_s=10)
    assert outbox.put(b"k", b"1")  # memory
    assert not outbox.put(b"k", b"2")  # no spool: dropped, counted, no exception
    assert outbox.dropped == 1
    assert os.path.exists(blocker)
