"""Booking growth blocks into calendars: the weekly reconcile, batches, runs, the week view."""
