#!/usr/bin/env bash
# Remove the kiosk service and its venv (idempotent). Keeps /etc/kiosk and the shares
# in /var/lib/kiosk unless PURGE=1. Same variables as scripts/install.sh.
set -euo pipefail

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/kiosk}
SYSCONFDIR=${SYSCONFDIR:-/etc/kiosk}
UNITDIR=${UNITDIR:-/etc/systemd/system}
BINDIR=${BINDIR:-/usr/local/bin}
STATEDIR=${STATEDIR:-/var/lib/kiosk}
SYSTEMCTL=${SYSTEMCTL:-1}
PURGE=${PURGE:-0}

say() { printf 'uninstall: %s\n' "$*"; }
live=0
if [ "$SYSTEMCTL" = 1 ] && [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  live=1
  systemctl disable --now kiosk.service 2>/dev/null || true
fi
rm -f "$DESTDIR$UNITDIR/kiosk.service"
[ "$live" = 1 ] && { systemctl daemon-reload; systemctl reset-failed kiosk.service 2>/dev/null || true; }
rm -rf "$DESTDIR$PREFIX/venv"
# the link install.sh made (only if it still points into our venv)
if [ "$(readlink "$DESTDIR$BINDIR/kiosk" 2>/dev/null)" = "$PREFIX/venv/bin/kiosk" ]; then
  rm -f "$DESTDIR$BINDIR/kiosk"
fi
rmdir "$DESTDIR$PREFIX" 2>/dev/null || true
if [ "$PURGE" = 1 ]; then
  # DynamicUser= keeps the real state in /var/lib/private/kiosk behind a symlink.
  rm -rf "$DESTDIR$SYSCONFDIR" "$DESTDIR$STATEDIR" "$DESTDIR/var/lib/private/kiosk"
  say "removed the service, the configuration and every share"
else
  say "removed the service; kept $SYSCONFDIR and $STATEDIR (PURGE=1 removes them)"
fi
