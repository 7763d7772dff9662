#!/usr/bin/env bash
# Debian packages the tests need (headless browser, offscreen Kivy rendering, a real IMAP server). Installs only when
# running as root on a Debian-like system and something is missing; otherwise it says what it skipped.
set -euo pipefail
PACKAGES=(chromium libegl1 libgl1 libgles2 libgl1-mesa-dri xvfb xauth dovecot-imapd)
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not root or no apt-get; skipping (${PACKAGES[*]})"
  exit 0
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
