#!/usr/bin/env bash
# Installs what gridline needs on a Debian/Ubuntu machine: GDAL/GEOS/PROJ/SpatiaLite,
# PostGIS for the local PostgreSQL (with --postgis), Debian's chromium (with --browser),
# a virtualenv from the distribution's python3, and the package with its dev extras
# (--runtime: without them, as infra/Dockerfile builds the image).
# Safe to run again: every step checks first and does nothing when already done.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
WANT_POSTGIS=0
WANT_BROWSER=0
EXTRAS="[dev]"
for arg in "$@"; do
  case "$arg" in
    --postgis) WANT_POSTGIS=1 ;;
    --browser) WANT_BROWSER=1 ;;
    --runtime) EXTRAS="" ;;  # the image (infra/Dockerfile): no dev extras
    *) echo "bootstrap: unknown option $arg" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_install() {
  local missing=()
  for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
      echo "bootstrap: missing ${missing[*]} and no apt-get here." >&2
      echo "  macOS: brew install gdal geos proj libspatialite postgis redis python@3.12" >&2
      exit 1
    fi
    echo "bootstrap: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Pick the package names this release ships (Debian 12: libgdal32 libproj25; Debian 13 newer).
first_available() {
  for p in "$@"; do
    if apt-cache show "$p" >/dev/null 2>&1; then echo "$p"; return; fi
  done
}
if ! have_pkg python3-venv || ! ls /usr/lib/*/libgdal.so* >/dev/null 2>&1 \
    || ! ls /usr/lib/*/mod_spatialite.so* >/dev/null 2>&1; then
  command -v apt-get >/dev/null && { $SUDO apt-get update -qq || true; }
fi
SYS_PKGS=(python3 python3-venv python3-dev gcc libgeos-c1v5 libsqlite3-mod-spatialite gettext)
GDAL_PKG="$(first_available libgdal36 libgdal34 libgdal33 libgdal32 libgdal30)"
PROJ_PKG="$(first_available libproj25 libproj22)"
[ -n "$GDAL_PKG" ] && SYS_PKGS+=("$GDAL_PKG")
[ -n "$PROJ_PKG" ] && SYS_PKGS+=("$PROJ_PKG")
apt_install "${SYS_PKGS[@]}"

if [ "$WANT_POSTGIS" = 1 ]; then
  PG_MAJOR="$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1 || true)"
  if [ -z "$PG_MAJOR" ]; then
    apt_install postgresql redis-server
    PG_MAJOR="$(ls /etc/postgresql | sort -n | tail -1)"
  fi
  apt_install "postgresql-$PG_MAJOR-postgis-3"
fi

if [ "$WANT_BROWSER" = 1 ]; then
  apt_install chromium chromium-driver fonts-wqy-microhei
fi

# The virtualenv must come from the distribution's python3: the pyenv builds first on PATH
# cannot load SQLite extensions, and GeoDjango's SpatiaLite backend refuses to start there.
PY=/usr/bin/python3
if ! "$PY" -c 'import sqlite3,sys; sys.exit(0 if hasattr(sqlite3.Connection, "enable_load_extension") else 1)'; then
  echo "bootstrap: $PY was built without sqlite3 extension loading; SpatiaLite cannot work." >&2
  echo "  Install the distribution's python3 (apt-get install python3 python3-venv) or a build" >&2
  echo "  configured with --enable-loadable-sqlite-extensions." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV from $PY"
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.installed-$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)${EXTRAS:+-dev}"
if [ ! -f "$STAMP" ]; then
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e "$ROOT$EXTRAS"
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
