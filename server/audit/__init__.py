"""Append-only audit log of who changed what."""
