"""Data safety: backups and restores of the database."""
