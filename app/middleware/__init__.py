"""ASGI middleware, one role per module, each registered with one line in app/main.py.

Each is an `HttpMiddleware` (app/middleware/http.py): other scopes pass through untouched."""
