"""Quiet during blocks: connect Slack, then during each booked block set the person's status
and pause notifications, and put things back at its end.

`link` connects, disconnects and turns quiet mode on and off; `periods` starts and ends the
quiet periods (the sweep); `slack` builds the Slack client and app from the settings.
"""
