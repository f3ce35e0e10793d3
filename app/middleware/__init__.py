"""ASGI middleware, one role per module, each registered with one line in app/main.py."""
