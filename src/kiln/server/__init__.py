"""`kiln server`: the REST API under /api/v1 over the same catalog and store as the CLI."""
