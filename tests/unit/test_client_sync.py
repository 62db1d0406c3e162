"""SyncLogService: emits from many threads, errors in the caller, blocking flush/close."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bonito_logs.client import SyncLogService
from bonito_logs.errors import ValidationError
from tests.unit.test_client_fakes import ORGS, FakeBroker, fields, unit_settings


def test_emits_from_several_threads_arrive_once_in_per_thread_order(tmp_path):
    broker = FakeBroker()
    service = SyncLogService(unit_settings(tmp_path, client_batch_records=100),
                             producer_factory=broker.factory)
    per_thread = 1000

    def work(t: int) -> list[str]:
        return [service.emit(**fields(i, org=ORGS[t]))
                for i in range(t * per_thread, (t + 1) * per_thread)]

    with ThreadPoolExecutor(8) as pool:
        ids = [rid for chunk in pool.map(work, range(8)) for rid in chunk]
    assert service.flush(timeout=10)
    service.close()
    recs = broker.records()
    assert sorted(r["id"] for r in recs) == sorted(ids)
    for t in range(8):
        seq = [r["metadata"]["n"] for r in recs if r["org_id"] == ORGS[t]]
        assert seq == list(range(t * per_thread, (t + 1) * per_thread))
    stats = service.stats()
    assert stats.emitted == stats.sent == 8 * per_thread


def test_validation_error_raises_in_the_calling_thread(tmp_path):
    with SyncLogService(unit_settings(tmp_path), producer_factory=FakeBroker().factory) as service:
        caught: list[BaseException] = []

        def bad() -> None:
            try:
                service.emit(org_id=ORGS[0], log_type="nope", event_type="x", severity="info")
            except ValidationError as exc:
                caught.append(exc)

        thread = threading.Thread(target=bad)
        thread.start()
        thread.join()
        assert len(caught) == 1 and caught[0].field == "log_type"


def test_emit_does_not_block_when_kafka_is_down_and_close_spools(tmp_path):
    settings = unit_settings(tmp_path)  # real aiokafka, nothing listening
    service = SyncLogService(settings)
    service.start()
    time.sleep(0.1)
    worst = 0.0
    for i in range(1000):
        t = time.perf_counter()
        service.emit(**fields(i))
        worst = max(worst, time.perf_counter() - t)
    assert worst < 0.25  # a hand-off, never a wait on the network
    assert not service.flush(timeout=0.2)
    service.close(timeout=0.5)
    assert sorted(Path(settings.spool_path).glob("*/*.seg"))

    broker = FakeBroker()
    with SyncLogService(settings, producer_factory=broker.factory) as replay:
        replay.start()
        assert replay.flush(timeout=5)
    assert sorted(r["metadata"]["n"] for r in broker.records()) == list(range(1000))


def test_context_manager_flushes_on_exit_and_restarts_after_close(tmp_path):
    broker = FakeBroker()
    service = SyncLogService(unit_settings(tmp_path), producer_factory=broker.factory)
    with service:
        service.emit(**fields(0))
    assert broker.count() == 1
    service.emit(**fields(1))  # a closed service starts again
    assert service.flush(timeout=5)
    service.close()
    assert broker.count() == 2
    assert not any(t.name == "bonito-logs-sender" for t in threading.enumerate())


def test_flush_from_the_sender_thread_is_refused(tmp_path):
    service = SyncLogService(unit_settings(tmp_path), producer_factory=FakeBroker().factory)
    service.start()
    result: list[BaseException] = []
    service._loop.call_soon_threadsafe(lambda: _try(service.flush, result))
    deadline = time.monotonic() + 5
    while not result and time.monotonic() < deadline:
        time.sleep(0.01)
    service.close()
    assert result and isinstance(result[0], RuntimeError)


def _try(fn, out):
    try:
        fn(timeout=1)
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        out.append(exc)


@pytest.mark.parametrize("n_threads", [2, 16])
def test_concurrent_emit_and_flush(tmp_path, n_threads):
    broker = FakeBroker()
    service = SyncLogService(unit_settings(tmp_path), producer_factory=broker.factory)
    stop = threading.Event()

    def flusher() -> None:
        while not stop.is_set():
            assert service.flush(timeout=5)

    def emitter(t: int) -> None:
        for i in range(200):
            service.emit(**fields(t * 200 + i, org=ORGS[t % len(ORGS)]))

    service.start()
    f = threading.Thread(target=flusher)
    f.start()
    threads = [threading.Thread(target=emitter, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    f.join()
    assert service.flush(timeout=5)
    service.close()
    assert sorted(r["metadata"]["n"] for r in broker.records()) == list(range(200 * n_threads))
