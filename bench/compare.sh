#!/usr/bin/env bash
# Runs fsdb_bench for fsdb, RocksDB and LevelDB on every benchmark, interleaved
# (fsdb rocksdb leveldb, fsdb rocksdb leveldb, ...) for --rounds rounds, then
# prints the median of each figure with the ratios fsdb/peer and renders PNG
# charts with gnuplot. Interleaving spreads the machine's background load over
# all three engines alike, and medians drop the odd disturbed run, so the
# ratios hold on a shared machine even when the absolute numbers do not.
#
#   bench/compare.sh [--bin=build/release-peers/bench/fsdb_bench] [--num=1000000]
#                    [--rounds=3] [--db=/tmp/fsdb_compare] [--out=build/compare]
#                    [--img=docs/img] [--engines="fsdb rocksdb leveldb"] [--report-only]
#
# --report-only skips the runs and rebuilds the table and charts from an
# existing $out/results.jsonl.
#
# The binary must be built with -DFSDB_BENCH_PEERS=ON (`make compare` does it).
# Output: $out/results.jsonl (every run), $out/table.md (the medians), and
# $img/compare_throughput.png, compare_ratio.png, compare_space.png.
set -euo pipefail

bin=build/release-peers/bench/fsdb_bench
num=1000000
rounds=3
db=/tmp/fsdb_compare
out=build/compare
img=docs/img
engines="fsdb rocksdb leveldb"
report_only=0
for arg in "$@"; do
  case "$arg" in
    --bin=*) bin="${arg#*=}" ;;
    --num=*) num="${arg#*=}" ;;
    --rounds=*) rounds="${arg#*=}" ;;
    --db=*) db="${arg#*=}" ;;
    --out=*) out="${arg#*=}" ;;
    --img=*) img="${arg#*=}" ;;
    --engines=*) engines="${arg#*=}" ;;
    --report-only) report_only=1 ;;
    *) echo "compare.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
[ "$report_only" = 1 ] || [ -x "$bin" ] || { echo "compare.sh: no fsdb_bench at $bin (build with -DFSDB_BENCH_PEERS=ON)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "compare.sh: needs python3 for the tables" >&2; exit 1; }
mkdir -p "$out" "$img"
results="$out/results.jsonl"
log="$out/settings.txt"

seek_reads=$((num / 10))
# One engine's share of a round: each line is "threads|extra flags|benchmarks",
# optionally "|directory suffix". Read benchmarks reuse the DB that
# fillrandom,overwrite filled (--use_existing_db=1), opened afresh so that
# reads reach tables. The 2-thread fill runs right after the 1-thread one (in
# a directory of its own, so the reads still find the 1-thread DB): the
# host's speed drifts over minutes, and the 2-thread / 1-thread ratio is only
# meaningful between runs seconds apart.
plan=(
  "1||fillseq"
  "1||fillrandom,overwrite"
  "2||fillrandom,compact|-2t"
  "1|--use_existing_db=1|readrandom,readmissing,readseq,readreverse"
  "2|--use_existing_db=1|readrandom"
  "1|--use_existing_db=1 --reads=$seek_reads|seekrandom"
  "1||fillsync"
  "2||fillsync"
  "1||memtable_only"
  "2||memtable_only"
)

run() {  # engine round threads extra benchmarks [directory suffix]
  local engine=$1 round=$2 threads=$3 extra=$4 benchmarks=$5 suffix=${6:-}
  # shellcheck disable=SC2086  # $extra is a list of flags
  "$bin" --engine="$engine" --num="$num" --threads="$threads" --key_size=16 --value_size=100 \
    --db="$db/$engine$suffix" --benchmarks="$benchmarks" --json $extra 2>>"$log" |
    sed "s/^{/{\"round\":$round,/" | tee -a "$results" |
    python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    disk = "" if r["disk_bytes"] < 0 else "  disk %.1f MB" % (r["disk_bytes"] / 1e6)
    print("  round %d %-8s %-14s t=%d %12.0f ops/s  p50 %8.2f  p99 %9.2f us%s" % (
        r["round"], r["engine"], r["benchmark"], r["threads"], r["ops_per_sec"],
        r["p50_us"], r["p99_us"], disk), flush=True)'
}

if [ "$report_only" = 0 ]; then
: >"$results"
# The charts name the machine the runs were made on, also when --report-only
# redraws them elsewhere.
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" >"$out/machine.txt"
: >"$log"
start=$(date +%s)
for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds ($(($(date +%s) - start)) s)"
  run fsdb "$round" 1 "" fdatasync,fdatasync_prealloc
  # The engines take turns going first: whatever the one before leaves (dirty
  # pages being written back, a warmer or colder host) falls on each alike.
  read -r -a order <<<"$engines"
  shift_by=$(((round - 1) % ${#order[@]}))
  order=("${order[@]:shift_by}" "${order[@]:0:shift_by}")
  for step in "${plan[@]}"; do
    IFS='|' read -r threads extra benchmarks suffix <<<"$step"
    for engine in "${order[@]}"; do
      run "$engine" "$round" "$threads" "$extra" "$benchmarks" "$suffix"
    done
  done
done
rm -rf "$db"
echo "== done in $(($(date +%s) - start)) s"
fi

python3 - "$results" "$out" "$img" "$num" "$rounds" <<'PY'
import json, statistics, sys
results, out, img, num, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
runs = [json.loads(l) for l in open(results) if l.strip()]
rounds = max((r["round"] for r in runs), default=0)
by = {}
for r in runs:
    by.setdefault((r["engine"], r["benchmark"], r["threads"]), []).append(r)

# A read that did not find what the fills wrote (or found what they did not)
# is not a result to compare: say so loudly. fsdb_bench counts as found every
# read that answered as it should (readmissing: every key absent; seekrandom:
# every seek landing on its key).
for r in runs:
    if r["benchmark"] in ("readrandom", "readmissing", "seekrandom") and r.get("found") != r["ops"]:
        print("compare.sh: %s %s (%d threads, round %d): only %s of %s reads answered as "
              "expected" % (r["engine"], r["benchmark"], r["threads"], r["round"], r.get("found"),
                            r["ops"]), file=sys.stderr)

def med(engine, bench, threads, field):
    rs = by.get((engine, bench, threads))
    return statistics.median(r[field] for r in rs) if rs else None

def in_round(engine, bench, threads, rnd, field="ops_per_sec"):
    for r in by.get((engine, bench, threads), []):
        if r["round"] == rnd: return r[field]
    return None

# The machine's speed drifts by 2x and more over minutes (other tenants of the
# host), so a ratio is taken within each round, between runs seconds apart,
# and the median of those per-round ratios is reported.
def ratio_med(num_of, den_of):
    rs = []
    for rnd in range(1, rounds + 1):
        a, b = num_of(rnd), den_of(rnd)
        if a and b: rs.append(a / b)
    return statistics.median(rs) if rs else None

rows = [("fillseq", 1), ("fillrandom", 1), ("fillrandom", 2), ("overwrite", 1),
        ("fillsync", 1), ("fillsync", 2), ("readrandom", 1), ("readrandom", 2),
        ("readmissing", 1), ("seekrandom", 1), ("readseq", 1), ("readreverse", 1),
        ("memtable_only", 1), ("memtable_only", 2)]
peers = ["rocksdb", "leveldb"]

def fmt_ops(v):
    if v is None: return "-"
    return "%.2fM" % (v / 1e6) if v >= 1e6 else "%.1fk" % (v / 1e3) if v >= 1e4 else "%.0f" % v

def fmt_ratio(a, b):
    return "%.2fx" % (a / b) if a and b else "-"

def fmt_r(r):
    return "%.2fx" % r if r else "-"

lines = []
lines.append("Medians of %s rounds, --num=%d, ops/s (p99 latency in us); ratios = fsdb / peer, "
             "the median of the ratios within each round." % (rounds, num))
lines.append("")
lines.append("| benchmark | threads | fsdb | rocksdb | leveldb | fsdb/rocksdb | fsdb/leveldb | fsdb/best peer |")
lines.append("|---|---|---|---|---|---|---|---|")
chart = []
for bench, t in rows:
    f = med("fsdb", bench, t, "ops_per_sec")
    cells = []
    for e in ["fsdb"] + peers:
        v = med(e, bench, t, "ops_per_sec")
        p99 = med(e, bench, t, "p99_us")
        cells.append("-" if v is None else "%s (%.1f)" % (fmt_ops(v), p99))
    fsdb_in = lambda rnd: in_round("fsdb", bench, t, rnd)
    def best_in(rnd):
        vs = [v for v in (in_round(p, bench, t, rnd) for p in peers) if v]
        return max(vs) if vs else None
    vs_best = ratio_med(fsdb_in, best_in)
    lines.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
        bench, t, *cells,
        fmt_r(ratio_med(fsdb_in, lambda rnd: in_round("rocksdb", bench, t, rnd))),
        fmt_r(ratio_med(fsdb_in, lambda rnd: in_round("leveldb", bench, t, rnd))), fmt_r(vs_best)))
    chart.append((f"{bench}/{t}", [med(e, bench, t, "ops_per_sec") for e in ["fsdb"] + peers],
                  vs_best))

lines.append("")
for probe, how in (("fdatasync", "append + fdatasync"),
                   ("fdatasync_prealloc", "write into allocated room + fdatasync")):
    sync = med("posix", probe, 1, "ops_per_sec")
    if not sync:
        continue
    lines.append("Device %s rate (%s, same runs): %s/s." % (probe, how, fmt_ops(sync)))
    for t in (1, 2):
        r = ratio_med(lambda rnd: in_round("fsdb", "fillsync", t, rnd),
                      lambda rnd: in_round("posix", probe, 1, rnd))
        if r: lines.append("fsdb fillsync, %d thread(s): %.0f%% of the %s rate." % (t, 100 * r, probe))
for b in ("fillrandom", "fillsync", "memtable_only"):
    r = ratio_med(lambda rnd: in_round("fsdb", b, 2, rnd), lambda rnd: in_round("fsdb", b, 1, rnd))
    if r: lines.append("fsdb %s 2 threads / 1 thread: %.2fx (median of the rounds' ratios)." % (b, r))
lines.append("")
lines.append("| on-disk bytes | fsdb | rocksdb | leveldb | fsdb/rocksdb |")
lines.append("|---|---|---|---|---|")
space = []
for bench, label in (("fillrandom", "after fillrandom (2 threads)"), ("compact", "after a full compaction")):
    vals = [med(e, bench, 2 if bench == "fillrandom" else 1, "disk_bytes") for e in ["fsdb"] + peers]
    lines.append("| %s | %s | %s | %s | %s |" % (
        label, *["-" if v is None else "%.1f MB" % (v / 1e6) for v in vals], fmt_ratio(vals[0], vals[1])))
    space.append((label, vals))
table = "\n".join(lines)
print(table)
open(out + "/table.md", "w").write(table + "\n")

def val(v): return "NaN" if v is None else "%.1f" % v
with open(out + "/throughput.dat", "w") as fh:
    for label, vals, _ in chart: fh.write('"%s" %s\n' % (label, " ".join(val(v) for v in vals)))
with open(out + "/ratio.dat", "w") as fh:
    for label, _, ratio in chart: fh.write('"%s" %s\n' % (label, "NaN" if ratio is None else "%.3f" % ratio))
with open(out + "/space.dat", "w") as fh:
    for label, vals in space: fh.write('"%s" %s\n' % (label, " ".join(val(None if v is None else v / 1e6) for v in vals)))
PY

if command -v gnuplot >/dev/null; then
  machine="machine not recorded"
  [ -s "$out/machine.txt" ] && machine=$(cat "$out/machine.txt")
  rounds_run=$(python3 -c 'import json, sys; print(max((json.loads(l)["round"] for l in open(sys.argv[1]) if l.strip()), default=0))' "$results")
  machine="$machine, num=$num, median of $rounds_run"
  gnuplot <<EOF
set terminal pngcairo size 1200,560 font "sans,10" noenhanced
set datafile missing "NaN"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set xtics rotate by -35 nomirror
set key top right

set output "$img/compare_throughput.png"
set title "Throughput, ops/s (log scale; $machine)"
set logscale y
plot "$out/throughput.dat" using 2:xtic(1) title "fsdb" lc rgb "#1f77b4", \
     "" using 3 title "RocksDB 7.8" lc rgb "#ff7f0e", \
     "" using 4 title "LevelDB 1.23" lc rgb "#2ca02c"

set output "$img/compare_ratio.png"
set title "fsdb / best peer, ops/s (1.0 = even, 1.5 = goal; $machine)"
unset logscale y
set yrange [0:*]
set offsets 0, 0, 0.5, 0
plot "$out/ratio.dat" using 2:xtic(1) title "fsdb / best peer" lc rgb "#1f77b4", \
     1.0 with lines dt 2 lc rgb "black" title "1.0", 1.5 with lines dt 3 lc rgb "red" title "1.5"

set output "$img/compare_space.png"
set terminal pngcairo size 700,420 font "sans,10" noenhanced
set offsets 0, 0, 15, 0
set xtics norotate
set title "On-disk MB, 1M random puts (2 threads)"
plot "$out/space.dat" using 2:xtic(1) title "fsdb (zstd)" lc rgb "#1f77b4", \
     "" using 3 title "RocksDB (zstd)" lc rgb "#ff7f0e", \
     "" using 4 title "LevelDB (snappy)" lc rgb "#2ca02c"
EOF
  echo "charts: $img/compare_throughput.png $img/compare_ratio.png $img/compare_space.png"
else
  echo "compare.sh: gnuplot not found, no charts (scripts/bootstrap.sh --peers installs it)" >&2
fi
