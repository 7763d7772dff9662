#!/usr/bin/env bash
# Debian packages the Nominatim geotag peer needs (benchmarks/geotag_nominatim.py): osm2pgsql for the
# import, PostGIS for PostgreSQL 15, osmium-tool to sort/convert OSM files, ICU headers + a compiler for
# PyICU (nominatim-db builds it from source), libpq for psycopg. Installs only what is missing;
# exits 1 with a clear message when something is missing and it cannot install (not root / no apt-get).
set -euo pipefail
PACKAGES=(osm2pgsql postgresql-15-postgis-3 osmium-tool libicu-dev pkg-config g++ libpq5)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "nominatim-deps: missing ${missing[*]}; run as root on Debian: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "nominatim-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
