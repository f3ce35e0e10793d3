"""Notifications: the outbox, channels, what a message says, and delivering it."""
