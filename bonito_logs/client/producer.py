"""The aiokafka producer the sender uses, and how to stop one that cannot deliver."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from bonito_logs.config import Settings

log = logging.getLogger("bonito_logs.client")

_STOP_TIMEOUT_S = 2.0

_warned_codecs: set[str] = set()


def compression_for(name: str) -> str | None:
    """aiokafka's compression_type for a setting; falls back to none if the codec is missing."""
    name = (name or "none").lower()
    if name in ("none", ""):
        return None
    from aiokafka import codec

    available = {"gzip": codec.has_gzip, "snappy": codec.has_snappy, "lz4": codec.has_lz4,
                 "zstd": codec.has_zstd}
    check = available.get(name)
    if check is None:
        raise ValueError(f"client_compression: unknown codec {name!r} (none, gzip, snappy, lz4, zstd)")
    if not check():
        if name in _warned_codecs:
            return None
        _warned_codecs.add(name)
        log.warning("client_compression=%s needs the cramjam package (pip install "
                    "'aiokafka[%s]'); sending uncompressed", name, name)
        return None
    return name


def default_producer_factory(settings: Settings) -> Any:
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"bonito-logs-{os.getpid()}",
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.client_linger_ms,
        max_batch_size=settings.client_max_batch_bytes,
        compression_type=compression_for(settings.client_compression),
    )


async def stop_quietly(producer: Any) -> None:
    """Stop a producer without waiting on batches an unreachable broker will never take."""
    try:
        await asyncio.wait_for(producer.stop(), _STOP_TIMEOUT_S)
        return
    except Exception as exc:  # includes the timeout
        log.debug("producer stop: %s", exc)
    # stop() waits for undeliverable batches; fail them so nothing stays pending.
    accumulator = getattr(producer, "_message_accumulator", None)
    if accumulator is not None:
        from aiokafka.errors import KafkaConnectionError

        accumulator.fail_all(KafkaConnectionError("producer closed by bonito-logs"))
    try:
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            await asyncio.wait_for(sender.close(), _STOP_TIMEOUT_S)
        await asyncio.wait_for(producer.client.close(), _STOP_TIMEOUT_S)
    except Exception as exc:
        log.debug("producer forced close: %s", exc)
