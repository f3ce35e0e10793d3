"""Keeping the events cache current: incremental sync, push watches, retention."""
