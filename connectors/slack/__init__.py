"""Slack, for quiet during blocks: a person's own user token sets their status and snooze.

Not a calendar provider (no `CalendarConnector`, no registry entry): `client.py` makes the
Web API calls with `slack_sdk`, one attempt each, mapping Slack's answers onto
`connectors.errors`; `oauth.py` is the OAuth v2 connect flow for a user token.
"""
