#!/usr/bin/env bash
# Installs what Coffer needs on Debian/Ubuntu, checking first and installing
# only what is missing. Usage: scripts/setup.sh [run|test]
#   run  — what building and opening the app needs (the default)
#   test — that plus what the test suites need (Xvfb, a keychain daemon,
#          Chromium, WebKitWebDriver, tauri-driver, the e2e npm packages)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-run}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

build_packages=(build-essential pkg-config file curl libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev
  libjavascriptcoregtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev libdbus-1-dev
  gnome-keyring dbus dbus-x11 libsecret-tools fonts-dejavu-core at-spi2-core nodejs npm)
test_packages=(xvfb xauth imagemagick webkit2gtk-driver keyutils chromium python3-venv postgresql openssl)

wanted=("${build_packages[@]}")
[ "$profile" = test ] && wanted+=("${test_packages[@]}")
# Without a display the app runs on a virtual one.
[ "$profile" = run ] && [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && wanted+=(xvfb xauth)

missing=()
for pkg in "${wanted[@]}"; do
  # node and npm may come from elsewhere (nodesource, nvm): accept any on PATH.
  case $pkg in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "Installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "Rust is not installed: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi

# npm dependencies: reinstall only when the lock file changed since the last install.
npm_install() {
  local dir=$1
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "Installing npm packages in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
}
npm_install ui
if [ "$profile" = test ]; then
  npm_install tests/e2e
  if ! command -v tauri-driver >/dev/null; then
    say "Installing tauri-driver (WebDriver for the app window)"
    cargo install tauri-driver --locked
  fi
  # Garage (crates.io), the S3-compatible store of the scaled test run. A
  # long build: kept outside the clone, in ~/.cache/coffer-tools, and only
  # rebuilt when the wanted version is not there.
  tools=${COFFER_TOOLS:-$HOME/.cache/coffer-tools}
  garage_version=2.5.0
  if ! "$tools/bin/garage" --version 2>/dev/null | grep -q "cargo:$garage_version"; then
    say "Building Garage $garage_version into $tools (once; about 20 minutes on 2 cores)"
    CARGO_TARGET_DIR="$tools/target" cargo install garage --version "$garage_version" --locked \
      --no-default-features --features bundled-libs,lmdb --root "$tools"
    rm -rf "$tools/target"
  fi
  # schemathesis (PyPI) fuzzes the API from its OpenAPI document; it lives in
  # its own venv, installed once (scripts/schemathesis.sh names the version).
  venv=${COFFER_VENV:-$HOME/.cache/coffer-venv}
  schemathesis_version=$(sed -n 's/^version=//p' scripts/schemathesis.sh)
  if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$schemathesis_version"; then
    say "Installing schemathesis $schemathesis_version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==$schemathesis_version"
  fi
fi
