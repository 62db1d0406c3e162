"""One module per resource; each exposes ``ROUTES`` built with ``openapi.routes``."""
