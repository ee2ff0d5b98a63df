#!/usr/bin/env bash
# The demo: dynokeeper on its embedded default, the local directory store under ./var/backups.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug/dynokeeper
echo "== dynokeeper $($bin --version)"
echo "== configuration (none given: every default)"
$bin config check
echo "== storage round trip through the local directory store"
$bin storage check --size-mb 32
