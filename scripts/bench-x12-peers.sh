#!/usr/bin/env bash
# Times our X12 reader against its peers on the same large generated 835 in one run (figures,
# not a test), and prints a table: wall and CPU seconds, segments/s, MB/s, peak RSS, and how
# many times less CPU per segment `practice x12 validate` needs than each peer.
#
#   scripts/bench-x12-peers.sh [SEGMENTS [PYTHON_SEGMENTS]]   # defaults 1000000, SEGMENTS
#
# PYTHON_SEGMENTS lets the slow Python peers read a smaller file built the same way (pyx12
# takes minutes per million segments); ours is measured on that file too, but the ratio uses
# ours on the large file of the same content (its longer run is timed more precisely; the
# reader streams, so its rate does not depend on the size). The file (scripts/bench-peers/make_835.py) repeats the claim loops of
# protocol/tests/fixtures/x12/reversal_correction_plb.835, BPR02/SE01 fixed so it validates
# and balances. Peers, installed into .tools/ when missing (never system-wide):
#   - pyx12 4.x validation (x12n_document as a library), PRACTICE_PYTHON or .tools/venv
#   - linuxforhealth-x12 typed parse (pydantic<2), .tools/lfh-venv; it refuses the PER in the
#     payer loop, so it reads a twin file without that one segment (said in the table)
#   - npm x12-parser tokenizer (segments as objects), .tools/node, with Debian's node/npm
# A peer that cannot be installed or fails on the file is reported as such in the table.
# PRACTICE_BIN=path measures that `practice` binary instead of building target/release/practice.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers="$root/scripts/bench-peers"
tools="$root/.tools"
segments="${1:-1000000}"
python_segments="${2:-$segments}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log() { printf '%s\n' "$*" >&2; }
fixture="$root/protocol/tests/fixtures/x12/reversal_correction_plb.835"

# --- inputs -----------------------------------------------------------------------------
declare -A file_segments file_bytes
make_input() { # name, segments, [--without-per]
  local path="$work/$1.835"
  if [ ! -f "$path" ]; then
    file_segments[$1]=$(python3 "$peers/make_835.py" "$fixture" "$2" "$path" "${@:3}") || exit 1
    file_bytes[$1]=$(wc -c < "$path")
  fi
}
make_input big "$segments"
make_input big-noper "$segments" --without-per
if [ "$python_segments" != "$segments" ]; then
  make_input py "$python_segments"
  make_input py-noper "$python_segments" --without-per
  pyfile=py
else
  pyfile=big
fi

# --- tools ------------------------------------------------------------------------------
declare -A missing
ensure_pyx12() {
  python="${PRACTICE_PYTHON:-$tools/venv/bin/python}"
  if [ -x "$python" ] && "$python" -c 'import pyx12' 2>/dev/null; then return 0; fi
  python="$tools/venv/bin/python"
  { [ -x "$python" ] || python3 -m venv "$tools/venv"; } &&
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check 'pyx12>=4,<5' >"$work/pyx12-install.log" 2>&1 &&
    "$python" -c 'import pyx12' 2>/dev/null
}
ensure_lfh() {
  lfh_python="$tools/lfh-venv/bin/python"
  if [ -x "$lfh_python" ] && "$lfh_python" -c 'import linuxforhealth.x12.io' 2>/dev/null; then return 0; fi
  { [ -x "$lfh_python" ] || python3 -m venv "$tools/lfh-venv"; } &&
    "$tools/lfh-venv/bin/pip" install --quiet --disable-pip-version-check 'linuxforhealth-x12==0.57.0' 'pydantic<2' \
      >"$work/lfh-install.log" 2>&1 &&
    "$lfh_python" -c 'import linuxforhealth.x12.io' 2>/dev/null
}
ensure_x12parser() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing Debian's nodejs and npm"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; } \
        >"$work/node-install.log" 2>&1 || return 1
    else
      return 1
    fi
  fi
  [ -f "$tools/node/node_modules/x12-parser/package.json" ] && return 0
  mkdir -p "$tools/node" && { [ -f "$tools/node/package.json" ] || echo '{"private": true}' > "$tools/node/package.json"; } &&
    npm install --prefix "$tools/node" --no-audit --no-fund --silent 'x12-parser@1.3.0' >"$work/npm-install.log" 2>&1 &&
    [ -f "$tools/node/node_modules/x12-parser/package.json" ]
}
ensure_pyx12 || missing[pyx12]="could not install pyx12 (pip into $tools/venv failed)"
ensure_lfh || missing[lfh]="could not install linuxforhealth-x12 (pip into $tools/lfh-venv failed)"
ensure_x12parser || missing[x12parser]="could not install x12-parser (node/npm missing or npm install failed)"

if [ -n "${PRACTICE_BIN:-}" ]; then
  practice="$PRACTICE_BIN"
else
  log "building practice (release)"
  if ! cargo build --release -q -p practice-nodes --manifest-path "$root/Cargo.toml" >&2; then
    log "cargo build --release -p practice-nodes failed"
    exit 1
  fi
  practice="$root/target/release/practice"
fi

# --- measuring --------------------------------------------------------------------------
# One row per run: name|file|status|wall|cpu|rss_kb|note
rows="$work/rows"
: > "$rows"
measure() { # name, file, note, command...
  local name="$1" file="$2" note="$3"; shift 3
  local stats="$work/time.txt" status=ok code=0
  log "running $name on $file (${file_segments[$file]} segments)"
  /usr/bin/time -f '%e %U %S %M' -o "$stats" "$@" > /dev/null 2> "$work/stderr.txt" || code=$?
  if [ "$code" != 0 ]; then
    status="failed (exit $code): $(grep -v '^\s*$' "$work/stderr.txt" | tail -n1 | cut -c1-100)"
  fi
  read -r wall user sys rss < <(tail -n1 "$stats")
  echo "$name|$file|$status|$wall|$user+$sys|$rss|$note" >> "$rows"
}
skip() { # name, reason
  echo "$1|-|not run: $2|0|0|0|" >> "$rows"
}

measure "practice x12 validate" big "streaming typed parse, all checks" "$practice" x12 validate "$work/big.835"
measure "practice x12 validate" big-noper "" "$practice" x12 validate "$work/big-noper.835"
if [ "$pyfile" != big ]; then
  measure "practice x12 validate" "$pyfile" "" "$practice" x12 validate "$work/$pyfile.835"
  measure "practice x12 validate" "$pyfile-noper" "" "$practice" x12 validate "$work/$pyfile-noper.835"
fi
measure "practice x12 parse" big "whole document as JSON" "$practice" x12 parse "$work/big.835"

if [ -n "${missing[x12parser]:-}" ]; then
  skip "npm x12-parser" "${missing[x12parser]}"
else
  measure "npm x12-parser" big "tokenizer only" \
    env NODE_PATH="$tools/node/node_modules" node "$peers/x12parser_tokenize.js" "$work/big.835"
fi
if [ -n "${missing[lfh]:-}" ]; then
  skip "linuxforhealth-x12" "${missing[lfh]}"
else
  measure "linuxforhealth-x12" "$pyfile-noper" "typed parse; twin without PER (refused)" \
    "$lfh_python" "$peers/lfh_parse.py" "$work/$pyfile-noper.835"
fi
if [ -n "${missing[pyx12]:-}" ]; then
  skip "pyx12" "${missing[pyx12]}"
else
  measure "pyx12" "$pyfile" "validation" "$python" "$peers/pyx12_validate.py" "$work/$pyfile.835"
fi

# --- table ------------------------------------------------------------------------------
args=()
for name in "${!file_segments[@]}"; do args+=("$name=${file_segments[$name]}:${file_bytes[$name]}"); done
python3 - "$rows" "${args[@]}" <<'PY'
import sys

files = {}
for arg in sys.argv[2:]:
    name, counts = arg.split("=")
    segments, size = counts.split(":")
    files[name] = (int(segments), int(size))
rows = [line.rstrip("\n").split("|") for line in open(sys.argv[1])]
for row in rows:
    row[4] = sum(float(part) for part in row[4].split("+"))
# CPU seconds per segment of ours, by kind of file (with or without the payer PER).
ours = {}
for row in rows:
    if row[0] == "practice x12 validate" and row[2] == "ok" and row[1].startswith("big"):
        ours["noper" in row[1]] = max(row[4], 0.01) / files[row[1]][0]
print()
print("Segments/s and MB/s are on CPU time (user + sys): the machine may be shared. Ratio: CPU")
print("time per segment of the tool over that of `practice x12 validate` on the same content (the")
print(f"{files['big'][0]:,}-segment file of the same kind, whose longer run times more precisely).")
print()
print(f"{'tool':22} {'file':>21} {'wall s':>7} {'CPU s':>7} {'segments/s':>12} {'MB/s':>7} {'peak RSS':>9} {'ours ×':>8}  note")
for name, file, status, wall, cpu, rss, note in rows:
    if status != "ok":
        print(f"{name:22} {'-':>21} {status}")
        continue
    segments, size = files[file]
    wall, cpu, rss = float(wall), max(cpu, 0.01), int(rss)
    mine = ours.get("noper" in file)
    ratio = f"{cpu / segments / mine:7.0f}×" if name != "practice x12 validate" and mine else ""
    label = f"{file} ({segments / 1e6:.2f} M)"
    print(f"{name:22} {label:>21} {wall:7.2f} {cpu:7.2f} {segments / cpu:12,.0f} {size / cpu / 1e6:7.1f} "
          f"{rss / 1024:6.1f} MB {ratio:>8}  {note}")
print()
for name, (segments, size) in sorted(files.items()):
    print(f"{name}: {segments:,} segments, {size / 1e6:.1f} MB" + ("; no PER in the payer loop" if "noper" in name else ""))
PY
