#!/usr/bin/env bash
# Runs the attack, lifecycle and conformance suites and writes
# docs/RELIABILITY.md from what they measured (see ./report/main.go).
# Takes a minute or two; exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./testing/attack/report "$@"
