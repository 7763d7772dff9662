"""Intake: channel adapters, the intake pipeline (normalize → identity → triage → geotag → case → job) and importers."""
