"""workers feature."""
