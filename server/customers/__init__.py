"""customers feature."""
