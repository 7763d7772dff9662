"""conversations feature."""
