#!/usr/bin/env bash
# Make sure the dashboard's browser tests have Debian's Chromium (they drive it through Playwright;
# kevin never downloads a browser). Used by `make test` and .ci/run.
#
#   present (KEVIN_TEST_CHROMIUM, default /usr/bin/chromium, is executable)  -> nothing to do
#   /usr/bin/chromium missing, and we may install (root, apt-get, KEVIN_INSTALL_CHROMIUM != no)
#                                                                            -> apt-get install chromium
#   missing otherwise                                                        -> one line saying how, exit 1
set -euo pipefail

chromium="${KEVIN_TEST_CHROMIUM:-/usr/bin/chromium}"
[[ -x "$chromium" ]] && exit 0

how="error: the browser tests need Chromium at $chromium: run 'sudo apt-get install chromium' (Debian's package), or set KEVIN_TEST_CHROMIUM=/path/to/chromium"

# Only Debian's own path can be provided by apt-get; a custom KEVIN_TEST_CHROMIUM is the user's to fix.
if [[ "$chromium" == /usr/bin/chromium && "${KEVIN_INSTALL_CHROMIUM:-yes}" != "no" && "$(id -u)" == 0 ]] \
    && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian chromium for the dashboard's browser tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq >&2 && apt-get install -y -qq chromium >&2 && [[ -x "$chromium" ]]; then
        exit 0
    fi
fi
echo "$how" >&2
exit 1
