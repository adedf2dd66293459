#!/usr/bin/env bash
# Opens a run's report.html in headless Chromium (Debian's `chromium`,
# installed with apt-get when missing and running as root) and fails when the
# browser logs any console message or uncaught exception, or when the page it
# built lacks the verdict and its sections.
#
#   scripts/check-report-html.sh REPORT_DIR [SCREENSHOT.png]
#
# The page has no script and a Content-Security-Policy that forbids loading
# anything, so any console output at all is a defect: a blocked external
# resource, a CSP violation, a parse error. Chromium logs every console
# message (whatever its level) and every uncaught exception as a CONSOLE line
# with --enable-logging=stderr --v=0; the check reads those lines.
set -euo pipefail

dir=${1:?usage: scripts/check-report-html.sh REPORT_DIR [SCREENSHOT.png]}
screenshot=${2:-}
page="$(cd "$dir" && pwd)/report.html"
[ -f "$page" ] || { echo "check-report-html: no report.html in $dir" >&2; exit 2; }

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "check-report-html: installing chromium (apt-get)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "check-report-html: chromium is missing (apt-get install -y chromium)" >&2
    exit 2
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
  --disable-component-update --disable-sync --no-first-run)

if ! timeout 120 chromium "${flags[@]}" --user-data-dir="$work/profile" \
  --enable-logging=stderr --v=0 --dump-dom "file://$page" >"$work/dom.html" 2>"$work/log"; then
  echo "check-report-html: FAIL: chromium did not load $page" >&2
  cat "$work/log" >&2
  exit 1
fi

problems=$(grep -E 'CONSOLE[(:]|Uncaught' "$work/log" || true)
if [ -n "$problems" ]; then
  echo "check-report-html: FAIL: $page logged in the browser console:" >&2
  echo "$problems" >&2
  exit 1
fi

if ! grep -q '<header class="verdict' "$work/dom.html"; then
  echo "check-report-html: FAIL: the page Chromium built has no verdict header" >&2
  exit 1
fi
sections=$(grep -o '<section id="' "$work/dom.html" | wc -l)
charts=$(grep -o '<svg class="chart"' "$work/dom.html" | wc -l)
if [ "$sections" -lt 9 ]; then
  echo "check-report-html: FAIL: the page Chromium built has $sections of 9 sections" >&2
  exit 1
fi

if [ -n "$screenshot" ]; then
  timeout 120 chromium "${flags[@]}" --user-data-dir="$work/shot" --hide-scrollbars \
    --window-size=1280,2400 --screenshot="$screenshot" "file://$page" >/dev/null 2>&1
fi

echo "check-report-html: OK: $page loaded in headless $(chromium --version 2>/dev/null | head -1 | cut -d' ' -f1-2) with no console message or uncaught exception ($sections sections, $charts charts)"
