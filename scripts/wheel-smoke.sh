#!/bin/sh
# CI: the wheel the image is built from must run on its own. Build it, install it into a clean
# virtualenv (no source tree on the path), migrate a fresh SQLite file in production mode, start
# the server and ask /healthz, /readyz, a page (templates) and a stylesheet (static files).
# There is no Docker engine on this machine: this checks what the image's runtime stage runs.
set -eu
PYTHON="${PYTHON:-python3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
SERVER=""

"$PYTHON" -m build --wheel --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log"; exit 1; }
rm -rf "$ROOT/build" "$ROOT"/*.egg-info
"$PYTHON" -m venv "$WORK/venv"
# Installed as the Dockerfile does (urllib3-future from source, beside urllib3).
URLLIB3_NO_OVERRIDE=1 "$WORK/venv/bin/python" -m pip install --quiet \
  --no-binary urllib3-future "$WORK"/dist/*.whl >"$WORK/pip.log" 2>&1 \
  || { cat "$WORK/pip.log"; exit 1; }

cd "$WORK"  # nothing of the source tree is importable from here
PORT="$("$WORK/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export GG_ENV=production
export GG_DATABASE_URL="sqlite:///$WORK/data/growthguard.db"
export GG_SECRET_KEY="$("$WORK/venv/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))')"
export GG_ENCRYPTION_KEYS="$("$WORK/venv/bin/growthguard" keygen)"
export GG_PUBLIC_URL="http://127.0.0.1:$PORT"

"$WORK/venv/bin/growthguard" migrate
"$WORK/venv/bin/growthguard" serve --port "$PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!
"$WORK/venv/bin/python" - "$PORT" <<'PY' || { cat "$WORK/serve.log"; exit 1; }
import sys, time, urllib.request

base = f"http://127.0.0.1:{sys.argv[1]}"
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as reply:
            assert reply.status == 200
            break
    except OSError:
        if time.monotonic() > deadline:
            raise SystemExit("the installed wheel did not answer /healthz within 30 s")
        time.sleep(0.2)
for path, needle in [("/readyz", b'"ok"'), ("/", b"GrowthGuard"), ("/static/app.css", b"{")]:
    with urllib.request.urlopen(base + path, timeout=5) as reply:
        body = reply.read()
        assert reply.status == 200 and needle in body, (path, reply.status, body[:200])
print("wheel smoke test: installed wheel migrated a fresh database and answered", base)
PY

# Production refuses the published placeholder secrets (the image defaults to production).
if GG_SECRET_KEY=change-me "$WORK/venv/bin/growthguard" migrate 2>"$WORK/refused.log"; then
  echo "production mode accepted the placeholder secret" >&2; exit 1
fi
grep -q "GG_SECRET_KEY" "$WORK/refused.log"
echo "wheel smoke test: production refuses placeholder secrets"
