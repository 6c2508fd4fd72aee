#!/usr/bin/env bash
# Creates (or reuses) the Python venv the celery-exporter tests and benchmark run Celery from.
# Idempotent: does nothing when the venv already holds exactly tests/celery/requirements.txt.
#
#   tests/celery/setup-venv.sh [VENV_DIR] [--with-flower]
#
# VENV_DIR defaults to target/celery-venv. --with-flower also installs Flower (benchmark only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-$root/target/celery-venv}"
flower="${2:-}"
requirements="$here/requirements.txt"
flower_pin="flower==2.0.1"

stamp="$venv/.requirements"
want="$(cat "$requirements")"
[ "$flower" = "--with-flower" ] && want="$want
$flower_pin"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
# Another process may be creating it right now (parallel test binaries): take a lock.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
if [ "$flower" = "--with-flower" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$flower_pin"
fi
printf '%s' "$want" > "$stamp"
