"""Triage: taxonomy, category, sentiment, urgency, amplification → priority and SLA."""
