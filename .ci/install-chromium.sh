#!/usr/bin/env bash
# Headless Chromium for tests/test_report_browser.py (the report as a person sees it).
# Idempotent; .ci/run has already run `apt-get update`.
set -euo pipefail
if ! command -v chromium >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-dejavu-core >/dev/null
fi
chromium --version
