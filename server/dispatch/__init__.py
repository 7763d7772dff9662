"""dispatch feature."""
