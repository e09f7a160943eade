#!/usr/bin/env bash
# PDF parsing cost against pdftotext (poppler-utils), on the same files in one run: per page, per
# MB, and as a share of ingesting the same PDF with the real model (embedding dominates ingest).
#
#   scripts/bench-pdf.sh            # the fixtures of tests/fixtures/pdf, 5 rounds
#   ROUNDS=10 scripts/bench-pdf.sh FILE.pdf...
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
command -v pdftotext >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q poppler-utils bc >/dev/null; }
command -v bc >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q bc >/dev/null; }
cargo build --release --locked --example bench_pdf --bin semsearch >&2
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(tests/fixtures/pdf/corpus.reportlab.pdf tests/fixtures/pdf/corpus.libreoffice.pdf tests/fixtures/pdf/cmrc.twocol.pdf tests/fixtures/pdf/xquad.twocol.pdf)
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); $ROUNDS rounds, best of each"
printf '%-40s %6s %8s %12s %12s %12s %8s\n' file pages KB "ours ms/page" "pdftotext" "ours MB/s" ratio
target/release/examples/bench_pdf "$ROUNDS" "${files[@]}" | while read -r f pages bytes ours; do
  best=""
  for _ in $(seq "$ROUNDS"); do
    s=$(date +%s.%N); pdftotext -q "$f" /dev/null; e=$(date +%s.%N)
    t=$(echo "($e - $s) * 1000" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  printf '%-40s %6d %8d %12.3f %12.3f %12.1f %7.2fx\n' "$(basename "$f")" "$pages" $((bytes / 1024)) \
    "$(echo "$ours / $pages" | bc -l)" "$(echo "$best / $pages" | bc -l)" \
    "$(echo "$bytes / 1048576 / ($ours / 1000)" | bc -l)" "$(echo "$ours / $best" | bc -l)"
done
echo "(ratio: our parse time over pdftotext's, whole process for pdftotext, so its start-up counts)"
if [ -d models/multilingual-e5-small ]; then
  f=${files[0]}
  parse=$(target/release/examples/bench_pdf 1 "$f" | awk '{print $4}')
  dir=$(mktemp -d)
  s=$(date +%s.%N); target/release/semsearch ingest --index "$dir/idx" "$f" >/dev/null 2>&1; e=$(date +%s.%N)
  rm -rf "$dir"
  total=$(echo "($e - $s) * 1000" | bc -l)
  printf 'ingest of %s with the real model: %.0f ms, of which parsing %.1f ms (%.2f%%)\n' \
    "$(basename "$f")" "$total" "$parse" "$(echo "100 * $parse / $total" | bc -l)"
fi
