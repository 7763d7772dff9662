"""Outbound messages to customers on their own channel, through small connectors."""
