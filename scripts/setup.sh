#!/usr/bin/env bash
# Sets edgefer up in ./.venv on a fresh machine (idempotent; quick when already done).
#   scripts/setup.sh        the package, its runtime dependencies and the web server's (extra `web`)
#   scripts/setup.sh test   also the test dependencies and Debian's Chromium for the browser test
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
extras="[web]"
if [ "${1:-}" = "test" ]; then
  extras="[web,test]"
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
        || echo "setup: could not install chromium; the browser test will be skipped" >&2
    fi
  fi
fi
# torch==2.13.0 is pinned in pyproject.toml: pip takes the CPU build from this workplace's disk.
log=$(mktemp)
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}" >"$log" 2>&1; then
  grep -v -e "is ignored: it is neither" "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
.venv/bin/python -c "import edgefer, cv2, torch; print('edgefer', edgefer.__version__, '| torch', torch.__version__, '| opencv', cv2.__version__)"
