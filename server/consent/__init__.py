"""Consent: which channel handles have asked not to be messaged (SMS STOP and the like)."""
