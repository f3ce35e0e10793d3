"""Security headers on every response: no sniffing, no framing, no referrer leaks, a CSP.

The dashboard's pages load only their own scripts and styles (no inline code), so the policy
is strict. The API docs (/docs) run Swagger UI from this server too; it sets inline styles
and may start a worker, so its page allows exactly that, and still no script from elsewhere.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from app.middleware.http import HttpMiddleware

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DOCS_PATHS = ("/docs",)
COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # one-click and sign-up links carry tokens: never send them on as a Referer
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def _behind_https(scope: Scope) -> bool:
    runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
    public_url = getattr(getattr(runtime, "settings", None), "public_url", "")
    return isinstance(public_url, str) and public_url.startswith("https://")


class SecurityHeadersMiddleware(HttpMiddleware):
    """Adds the headers unless a response set its own."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith(DOCS_PATHS) else PAGE_CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [*COMMON, (b"content-security-policy", csp.encode())]
                if _behind_https(scope):
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                headers += [(n, v) for n, v in extra if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
