#!/usr/bin/env bash
# Times our X12 reader against pyx12 on the same large generated 835 (figures, not a test).
#
#   scripts/bench-x12-peers.sh [SEGMENTS]     # default 1000000
#
# Builds the 835 the criterion bench uses (protocol/tests/fixtures/x12/reversal_correction_plb.835
# with its claim loops repeated, BPR02/SE01 fixed so it validates and balances) into a temp
# file, then reports wall time, segments/s and peak RSS for:
#   - `practice x12 validate` (release build; streaming: memory must not grow with the file)
#   - `practice x12 parse` (release build; the whole typed document as JSON)
#   - pyx12 4.x validation (x12n_document as a library), from PRACTICE_PYTHON or .tools/venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
segments="${1:-1000000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
big="$work/big.835"

python3 - "$root/protocol/tests/fixtures/x12/reversal_correction_plb.835" "$segments" "$big" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
target, out = int(sys.argv[2]), sys.argv[3]
lx = next(i for i, l in enumerate(lines) if l.startswith("LX*"))
plb = next(i for i, l in enumerate(lines) if l.startswith("PLB*"))
se = next(i for i, l in enumerate(lines) if l.startswith("SE*"))
st = next(i for i, l in enumerate(lines) if l.startswith("ST*"))
block = lines[lx:plb]
repeats = -(-target // len(block))
with open(out, "w") as f:
    for l in lines[:lx]:
        f.write(l.replace("BPR*I*130.00", f"BPR*I*{180 * repeats - 50}.00", 1) + "\n")
    chunk = "\n".join(block) + "\n"
    for _ in range(repeats):
        f.write(chunk)
    for l in lines[plb:se]:
        f.write(l + "\n")
    f.write(f"SE*{(lx - st) + repeats * len(block) + (se - plb) + 1}*0001~\n")
    for l in lines[se + 1:]:
        f.write(l + "\n")
PY
total=$(wc -l < "$big")
bytes=$(wc -c < "$big")
echo "input: $total segments, $bytes bytes ($big)"

measure() { # name, command...
  local name="$1"; shift
  local stats="$work/time.txt"
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$stats" "$@" > /dev/null 2> "$work/stderr.txt" || true
  end=$(date +%s.%N)
  python3 - "$name" "$start" "$end" "$total" "$bytes" "$(tail -n1 "$stats")" <<'PY'
import sys
name, start, end, segs, size, rss_kb = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
s = end - start
print(f"{name:34s} {s:8.2f} s  {segs / s:12,.0f} segments/s  {size / s / 1e6:8.1f} MB/s  peak RSS {rss_kb / 1024:7.1f} MB")
PY
}

cargo build --release -p practice-nodes --manifest-path "$root/Cargo.toml" >&2
practice="$root/target/release/practice"
measure "practice x12 validate (streaming)" "$practice" x12 validate "$big"
measure "practice x12 parse (JSON)" "$practice" x12 parse "$big"

python="${PRACTICE_PYTHON:-$root/.tools/venv/bin/python}"
if [ -x "$python" ] && "$python" -c 'import pyx12' 2>/dev/null; then
  cat > "$work/pyx12_validate.py" <<'PY'
import sys, io
import pyx12.error_handler, pyx12.x12n_document, pyx12.params
params = pyx12.params.params()
errh = pyx12.error_handler.errh_null()
with open(sys.argv[1]) as src:
    ok = pyx12.x12n_document.x12n_document(params, src, errh, io.StringIO(), None)
print("pyx12 ok" if ok else "pyx12 reported errors", file=sys.stderr)
PY
  measure "pyx12 x12n_document (validate)" "$python" "$work/pyx12_validate.py" "$big"
else
  echo "pyx12 not found (run scripts/test-deps.sh or set PRACTICE_PYTHON): skipped" >&2
fi
