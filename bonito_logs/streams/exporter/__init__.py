"""The exporter worker: export requests → CSV / JSON / NDJSON files (see ``agent``)."""

from bonito_logs.streams.exporter.agent import ExporterAgent

__all__ = ["ExporterAgent"]
