"""Listening: public posts that match our taxonomy and area but were not addressed to us."""
