# Sourced by scripts/demo and scripts/test: create .venv if missing and install casdb into it.
# Usage: ensure_venv [EXTRAS]   (e.g. ensure_venv test)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

ensure_venv() {
  local extras="${1:-}"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  fi
  local spec="$ROOT"
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  # Re-install only when pyproject.toml changed since the last install (idempotent and quick).
  local stamp="$VENV/.casdb-installed-${extras:-base}"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "installing casdb${extras:+[$extras]} into $VENV" >&2
    "$VENV/bin/python" -m pip install -q -e "$spec" >&2
    touch "$stamp"
  fi
}

# The browser tests of `casdb card --html` (tests/test_cards.py) load the page in Debian's
# chromium. Install it when it is missing and apt-get can (as root); otherwise say so once: those
# tests then skip, and only those. Idempotent: nothing runs when chromium is there.
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    return 0
  fi
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing chromium (apt-get) for the data-card browser tests" >&2
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
       || { apt-get update -q >/dev/null 2>&1 \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }; then
      return 0
    fi
  fi
  echo "chromium is not installed and could not be (needs apt-get as root): the browser tests" \
       "of casdb card will be skipped" >&2
}

# The remote audio codec's tests (tests/test_remote_codec.py) and benchmark (bench_codec.py) use
# real speech: espeak-ng synthesises it, and asterisk-core-sounds-en-wav ships 568 recorded
# voice prompts as 8 kHz WAV. Install them when missing and apt-get can (as root); otherwise
# say so once: the tests that need them skip. Idempotent: nothing runs when both are there.
ensure_speech() {
  local missing=()
  command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
  [ -d /usr/share/asterisk/sounds/en_US_f_Allison ] || missing+=(asterisk-core-sounds-en-wav)
  [ ${#missing[@]} -eq 0 ] && return 0
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]} (apt-get) for the remote audio codec's speech tests" >&2
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
       || { apt-get update -q >/dev/null 2>&1 \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; }; then
      return 0
    fi
  fi
  echo "${missing[*]} not installed and could not be (needs apt-get as root): the speech tests" \
       "of the remote audio codec will be skipped" >&2
}
