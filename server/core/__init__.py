"""Plumbing shared by every feature: database, time, pagination, errors, dependencies."""
