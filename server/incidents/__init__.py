"""Incidents: complaints joined to one job, split, reporters notified on close, proactive notices."""
