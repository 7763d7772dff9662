"""technicians feature."""
