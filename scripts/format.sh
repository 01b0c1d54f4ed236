#!/usr/bin/env bash
# Rewrites every C file in place with .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -v '^build' | xargs -r clang-format -i
