#!/usr/bin/env bash
# Prints the path of a Python interpreter >= 3.12 (localstack-core 2026.3.0 needs it).
# Order: $PYTHON, then python3.13/python3.12/python3 on PATH, then pyenv's installed
# versions (they are often installed but not selected, so their shims fail).
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
cands=()
[ -n "${PYTHON:-}" ] && cands+=("$PYTHON")
for n in python3.13 python3.12 python3; do
  p=$(command -v "$n" 2>/dev/null) && cands+=("$p")
done
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for d in $(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -rV); do
  cands+=("$d/bin/python3")
done
for c in "${cands[@]}"; do
  if ok "$c"; then
    # Resolve through pyenv shims to the real interpreter, so the venv does not depend on them.
    "$c" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "find-python: no Python >= 3.12 found (tried: ${cands[*]:-none}). Install one, or set PYTHON=/path/to/python3.12" >&2
exit 1
