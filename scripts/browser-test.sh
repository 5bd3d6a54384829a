#!/usr/bin/env bash
# The dashboard's end-to-end test: `gantry demo` on a free port, driven by
# Playwright in Debian's headless Chromium (web/e2e/dashboard.mjs).
# Installs Chromium and a CJK font when missing. Screenshots go to
# target/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

install_browser() {
    local missing=()
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || missing+=(fonts-noto-cjk)
    [ ${#missing[@]} -eq 0 ] && return
    echo "installing ${missing[*]} (Debian packages)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_browser
cargo build --locked --bin gantry
[ -d web/node_modules/playwright-core ] || (cd web && npm ci --no-audit --no-fund)

work=$(mktemp -d)
demo_pid=""
cleanup() {
    [ -n "$demo_pid" ] && kill "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

target/debug/gantry demo --port 0 --data-dir "$work/data" --rate 200 --clones 40 \
    >"$work/demo.log" 2>&1 &
demo_pid=$!
url=""
for _ in $(seq 1 100); do
    url=$(grep -o 'http://[^ ]*' "$work/demo.log" | head -n1 || true)
    [ -n "$url" ] && break
    kill -0 "$demo_pid" 2>/dev/null || { cat "$work/demo.log"; exit 1; }
    sleep 0.2
done
[ -n "$url" ] || { echo "the demo printed no address"; cat "$work/demo.log"; exit 1; }
echo "browser test against $url"
SCREENSHOT_DIR="$PWD/target/screenshots" node web/e2e/dashboard.mjs "$url"
echo "screenshots in target/screenshots/"
