#!/usr/bin/env bash
# Render the docs site's main pages in headless Chromium at desktop (1280 px) and phone (412 px) width, to look
# at them as a reader does. Not part of CI.
#
#   tools/docs_screenshots.sh [OUT_DIR] [PAGE ...]
#
# OUT_DIR defaults to screenshots/ (ignored by git); PAGE is a site path such as "models/" (default: the pages
# listed below). Writes OUT_DIR/<page>-<width>.png. HEIGHT sets the window height in pixels (default 900: what a
# reader sees first); a page longer than that is cut off, so take e.g. HEIGHT=6000 to see a whole page (headless
# Chromium paints a blank picture for a URL with a #fragment, so there is no scrolling to a section).
# Needs Chromium (Debian: apt-get install chromium) and the docs extra (pip install -e ".[docs]").
set -euo pipefail
export NO_MKDOCS_2_WARNING=1
cd "$(dirname "$0")/.."
out=${1:-screenshots}
shift || true
pages=("$@")
if [ ${#pages[@]} -eq 0 ]; then
  pages=("" installation/ quickstart/ shapes/ tutorial/ your-model/ models/ datasets/ reproduce/ training/ cli/
         deployment/ visualisation/ performance/
         api/ api/framework/ api/data/ api/training/ api/inference/ 404.html)
fi
height=${HEIGHT:-900}
chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chromium" ]; then
  echo "no Chromium found (Debian: apt-get install chromium)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdocs build --strict --quiet --site-dir "$work/site"
port=$(python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
python -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do
  python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
  sleep 0.1
done

mkdir -p "$out"
for page in "${pages[@]}"; do
  name=$(printf '%s' "${page:-index}" | sed -e 's/[^A-Za-z0-9_]\+/-/g' -e 's/-$//')
  for width in 1280 412; do
    "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
      --disable-component-update --disable-sync --hide-scrollbars --virtual-time-budget=4000 \
      --user-data-dir="$work/profile" \
      --window-size="$width,$height" --screenshot="$out/$name-$width.png" "http://127.0.0.1:$port/$page" \
      >/dev/null 2>&1
    echo "$out/$name-$width.png"
  done
done
