"""The log record schema: rules (``build_record``), Avro codec (``encode``/``decode``)."""

from bonito_logs.schemas.codec import (
    MARKER,
    SchemaVersion,
    crc64_avro,
    current_schema,
    decode,
    encode,
    format_timestamp,
    record_to_json,
    schema_versions,
)
from bonito_logs.schemas.model import (
    ACTIONS,
    FIELDS,
    LOG_TYPES,
    MAX_MESSAGE_BYTES,
    MAX_METADATA_BYTES,
    MAX_RECORD_BYTES,
    REQUIRED,
    SEVERITIES,
    SEVERITY_RANK,
    build_record,
)

__all__ = [
    "ACTIONS", "FIELDS", "LOG_TYPES", "MARKER", "MAX_MESSAGE_BYTES", "MAX_METADATA_BYTES",
    "MAX_RECORD_BYTES", "REQUIRED", "SEVERITIES", "SEVERITY_RANK", "SchemaVersion", "build_record",
    "crc64_avro", "current_schema", "decode", "encode", "format_timestamp", "record_to_json",
    "schema_versions",
]
