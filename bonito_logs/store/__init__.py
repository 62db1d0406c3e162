"""OpenSearch storage of log records: daily indices and their template, documents,
query requests and their DSL, the safe search syntax, org-scoped search, retention."""

from bonito_logs.store.client import make_client
from bonito_logs.store.cursor import decode_cursor, encode_cursor
from bonito_logs.store.documents import from_document, metadata_text, to_document
from bonito_logs.store.query import LogQuery, build_query, build_sort, parse_query_request
from bonito_logs.store.retention import delete_expired_indices
from bonito_logs.store.search import LogSearch
from bonito_logs.store.search_syntax import build_search_query, parse_search
from bonito_logs.store.templates import (
    MAPPINGS,
    ensure_templates,
    index_for,
    index_template,
    template_name,
)

__all__ = [
    "MAPPINGS", "LogQuery", "LogSearch", "build_query", "build_search_query", "build_sort",
    "decode_cursor", "delete_expired_indices", "encode_cursor", "ensure_templates",
    "from_document", "index_for", "index_template", "make_client", "metadata_text",
    "parse_query_request", "parse_search", "template_name", "to_document",
]
