"""The one place an OpenSearch client is built."""

from __future__ import annotations

from opensearchpy import AsyncOpenSearch

from bonito_logs.config import Settings

DEFAULT_TIMEOUT_S = 30.0


def make_client(settings: Settings, *, timeout: float = DEFAULT_TIMEOUT_S) -> AsyncOpenSearch:
    """An async client for ``settings.opensearch_url``; the caller closes it (``await c.close()``).

    Timeouts are not retried: a slow query retried three times only makes an
    overloaded cluster slower, and every writer here is idempotent anyway, so the
    caller decides when to try again.
    """
    return AsyncOpenSearch(
        hosts=[settings.opensearch_url],
        timeout=timeout,
        retry_on_timeout=False,
        max_retries=2,
        http_compress=False,
    )
