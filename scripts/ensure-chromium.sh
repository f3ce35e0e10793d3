#!/bin/sh
# Make sure Debian's Chromium is there for the browser tests (tests/browser).
# Installs the `chromium` package with apt-get when it is missing and this runs as root;
# otherwise it only says what it found (and never fails). Playwright uses this executable
# (GG_CHROMIUM, default /usr/bin/chromium): `playwright install` is not used.
set -eu

CHROMIUM="${GG_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "ensure-chromium: found $CHROMIUM"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: $CHROMIUM is missing; not root, so not installing (the browser tests skip, or fail when CI=true)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available; nothing done"
    exit 0
fi
echo "ensure-chromium: $CHROMIUM is missing; installing Debian's chromium with apt-get"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
if [ -x "$CHROMIUM" ]; then
    echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
    echo "ensure-chromium: installed Debian's chromium, but $CHROMIUM is still missing (set GG_CHROMIUM)"
fi
