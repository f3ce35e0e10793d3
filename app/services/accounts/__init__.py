"""Connecting calendar accounts, their calendars, and the connectors that reach them."""
