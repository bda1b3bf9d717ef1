#!/usr/bin/env bash
# run.sh: rnn.c against PyTorch on every case of bench/cases.json, as a
# Markdown table (bench/README.md says what is measured and how).
#
#   bench/run.sh [--quick] [--out [FILE]] [--cases "NAME ..."] [--threads "1 2"]
#                [--seconds S] [--warmup S] [--rounds R]
#
#   --quick     CI smoke test: one thread,
#               no warm-up, 0.3 s per run (at least one step), well under 60 s;
#               the numbers are cold-start and only show that everything runs
#   --out FILE  also write the report to FILE (default bench/results.md)
#   --cases     a subset of the case names (build/bench/bench_rnn --list)
#   --threads   thread counts to try; each side's best is reported (default "1 2")
#   --seconds   timed seconds per run (default 10)
#   --warmup    warm-up seconds per run (default 2)
#   --rounds    runs of each (case, side, thread count), default 1; a case's
#               rounds follow one another (both sides, every thread count,
#               then again), and each side's best is reported: on a shared
#               host a transient slowdown then costs one run, not the figure
#
# Each (case, side, thread count) is its own process, started with
# OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set to the count,
# so peak RSS is that run's alone. PyTorch runs when $PYTHON (default
# /usr/bin/python3) can import torch; otherwise its columns read n/a. The
# library is built with the Makefile's choices (BACKEND=..., NATIVE=... in the
# environment are passed on to make). Exits non-zero if any run failed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-/usr/bin/python3}

quick=0 out="" cases="" threads="1 2" seconds=10 warmup=2 rounds=1
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --out)
        if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then out=$2; shift; else out=bench/results.md; fi ;;
    --cases) cases=$2; shift ;;
    --threads) threads=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --rounds)
        rounds=$2; shift
        [[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --rounds needs a positive integer, not '$rounds'" >&2; exit 2; } ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
    esac
    shift
done
if [ $quick = 1 ]; then
    threads=1 seconds=0.3 warmup=0 rounds=1
fi

# --- build ------------------------------------------------------------------
BIN=build/bench/bench_rnn
LOGS=build/bench/logs
mkdir -p build/bench "$LOGS"
make --no-print-directory build/librnn-internal.a >"$LOGS/make.log" 2>&1 || {
    cat "$LOGS/make.log" >&2
    echo "run.sh: building build/librnn-internal.a failed" >&2
    exit 1
}
# build/flags holds "cc CFLAGS LDLIBS" as the Makefile chose them; the -l
# libraries go again after the archive, where the linker needs them.
read -r -a flags <build/flags
# shellcheck disable=SC2046
"${flags[@]}" bench/bench_rnn.c build/librnn-internal.a $(grep -o -- '-l[^ ]*' build/flags) -fopenmp \
    -o "$BIN"

have_torch=0 torch_version=n/a
if "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
    have_torch=1
    torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)')
fi

# --- run --------------------------------------------------------------------
# A field of one of our flat JSON lines ("key": value or "key": "value").
field() { sed -n "s/.*\"$2\": \"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$1"; }

declare -A title unit best_line
names=()
while IFS=$'\t' read -r name u t; do
    if [ -n "$cases" ] && [[ " $cases " != *" $name "* ]]; then continue; fi
    names+=("$name") title[$name]=$t unit[$name]=$u
done < <("$BIN" --list)
if [ -n "$cases" ]; then
    for c in $cases; do
        [ -n "${title[$c]+x}" ] || { echo "run.sh: no case $c ($BIN --list)" >&2; exit 2; }
    done
fi
sides="rnn.c"
if [ $have_torch = 1 ]; then sides="rnn.c pytorch"; fi

failed=0 all_runs=""
n_runs=$(( ${#names[@]} * $(wc -w <<<"$sides") * $(wc -w <<<"$threads") * rounds )) i=0
for name in "${names[@]}"; do
  for round in $(seq "$rounds"); do
    for side in $sides; do
        for n in $threads; do
            i=$((i + 1))
            args=("$name" --threads "$n" --seconds "$seconds" --warmup "$warmup")
            if [ "$side" = rnn.c ]; then cmd=("$BIN" "${args[@]}"); else cmd=("$PYTHON" bench/torch_bench.py "${args[@]}"); fi
            log="$LOGS/$name-$side-$n$([ "$rounds" = 1 ] || echo "-r$round").log"
            printf '[%d/%d] %-18s %-7s %s thread(s) ... ' $i $n_runs "$name" "$side" "$n" >&2
            if line=$(OMP_NUM_THREADS=$n OPENBLAS_NUM_THREADS=$n MKL_NUM_THREADS=$n "${cmd[@]}" 2>"$log" | tail -n 1) &&
                [ -n "$(field "$line" throughput)" ]; then
                echo "$(field "$line" throughput) $(field "$line" unit)" >&2
                all_runs+="$line"$'\n'
                key="$name/$side"
                if [ -z "${best_line[$key]+x}" ] || awk -v a="$(field "$line" throughput)" \
                    -v b="$(field "${best_line[$key]}" throughput)" 'BEGIN { exit !(a > b) }'; then
                    best_line[$key]=$line
                fi
            else
                echo "FAILED (see $log)" >&2
                tail -n 5 "$log" >&2 || true
                failed=1
            fi
        done
    done
  done
done

# The ceiling of fp32 batch-1 sampling: how fast the cores read the 12.75 MB
# of weights a sample_lstm_2x512 token streams (bench/bench_stream.c).
stream_gbs=""
if [ $quick = 0 ] && [[ " ${names[*]} " == *" sample_lstm_2x512 "* ]]; then
    maxthr=$(tr ' ' '\n' <<<"$threads" | sort -n | tail -n 1)
    if cc -std=c11 -O3 -march=native -fopenmp bench/bench_stream.c -o build/bench/bench_stream 2>"$LOGS/stream.log"; then
        stream_gbs=$(build/bench/bench_stream "$maxthr" 12.75 2>>"$LOGS/stream.log" | awk 'NR > 1 && $3 > b { b = $3 } END { if (b) print b }')
    fi
fi

# --- report -----------------------------------------------------------------
fmt() { # a throughput or a rate: 3 significant digits at least, no exponent
    awk -v x="$1" 'BEGIN { if (x == "") print "n/a"; else if (x >= 100) printf "%.0f\n", x;
                           else if (x >= 10) printf "%.1f\n", x; else printf "%.2f\n", x }'
}
report() {
    local cpu mode
    cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
    if [ $quick = 1 ]; then mode="--quick (smoke test: cold start, $seconds s per run; numbers not meaningful)"
    else mode="warm-up $warmup s, then $seconds s timed, per case, side and thread count$([ "$rounds" = 1 ] || echo ", $rounds rounds (best shown)")"; fi
    echo "# rnn.c vs PyTorch"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); rnn.c $(git describe --always --dirty 2>/dev/null || echo '(not a git checkout)')"
    echo "- CPU: ${cpu:-unknown}, $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') at the end"
    echo "- rnn.c: GEMM backend $(field "$(head -n 1 <<<"$all_runs")" backend), flags \`$(cat build/flags)\`"
    echo "- PyTorch: $torch_version$([ $have_torch = 1 ] || echo " (not importable by $PYTHON: PyTorch columns n/a)")"
    echo "- mode: $mode; threads tried: $threads (best shown, threads in parentheses)"
    echo
    echo "| case | unit | rnn.c | PyTorch | rnn.c / PyTorch | rnn.c GFLOP/s | PyTorch GFLOP/s | rnn.c peak RSS MiB | PyTorch peak RSS MiB |"
    echo "|---|---|--:|--:|--:|--:|--:|--:|--:|"
    for name in "${names[@]}"; do
        local c="${best_line[$name/rnn.c]:-}" p="${best_line[$name/pytorch]:-}"
        local ct pt ratio fpu cg pg
        ct=$(field "$c" throughput) pt=$(field "$p" throughput) fpu=$(field "$c" flops_per_unit)
        ratio=$(awk -v a="$ct" -v b="$pt" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f\n", a / b }')
        cg=$(awk -v t="$ct" -v f="$fpu" 'BEGIN { if (t == "" || f == "") print ""; else print t * f * 1e-9 }')
        pg=$(awk -v t="$pt" -v f="$fpu" 'BEGIN { if (t == "" || f == "") print ""; else print t * f * 1e-9 }')
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${title[$name]}" "${unit[$name]}" \
            "$(fmt "$ct")${c:+ ($(field "$c" threads))}" "$(fmt "$pt")${p:+ ($(field "$p" threads))}" \
            "$ratio" "$(fmt "$cg")" "$(fmt "$pg")" \
            "$(fmt "$(field "$c" peak_rss_mib)")" "$(fmt "$(field "$p" peak_rss_mib)")"
    done
    echo
    echo "GFLOP/s counts only the matrix products (rnn.c's analytic count, applied to both sides; bench/README.md)."
    if [ -n "$stream_gbs" ]; then
        local st
        st=$(field "${best_line[sample_lstm_2x512/rnn.c]:-}" throughput)
        echo
        echo "fp32 sampling's ceiling: this CPU reads the 12.75 MB of weights a token streams at $stream_gbs GB/s" \
            "(bench/bench_stream.c, best of 1 and $maxthr threads), so at most $(fmt "$(awk -v g="$stream_gbs" 'BEGIN { print g * 1e9 / 12.75e6 }')") tokens/s$(
            [ -z "$st" ] || awk -v t="$st" -v g="$stream_gbs" 'BEGIN { printf "; rnn.c ran at %.0f%% of it", 100 * t / (g * 1e9 / 12.75e6) }')."
    fi
    echo
    echo "## Every run"
    echo
    echo "| case | side | threads | throughput | unit | peak RSS MiB | timed steps | seconds | last loss |"
    echo "|---|---|--:|--:|---|--:|--:|--:|--:|"
    while IFS= read -r l; do
        [ -n "$l" ] || continue
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(field "$l" case)" "$(field "$l" side)" \
            "$(field "$l" threads)" "$(fmt "$(field "$l" throughput)")" "$(field "$l" unit)" \
            "$(field "$l" peak_rss_mib)" "$(field "$l" steps)" "$(field "$l" seconds)" \
            "$(field "$l" loss | sed 's/^null$/-/')"
    done <<<"$all_runs"
    echo
    echo "## Commands"
    echo
    echo '```'
    echo "bench/run.sh$([ $quick = 0 ] || echo ' --quick')   # this report; then, per case and thread count N:"
    echo "OMP_NUM_THREADS=N OPENBLAS_NUM_THREADS=N MKL_NUM_THREADS=N $BIN CASE --threads N --seconds $seconds --warmup $warmup"
    if [ $have_torch = 1 ]; then
        echo "OMP_NUM_THREADS=N OPENBLAS_NUM_THREADS=N MKL_NUM_THREADS=N $PYTHON bench/torch_bench.py CASE --threads N --seconds $seconds --warmup $warmup"
    fi
    echo '```'
}

if [ -n "$out" ]; then report | tee "$out"; else report; fi
[ $failed = 0 ] || { echo "run.sh: some runs failed (logs in $LOGS)" >&2; exit 1; }
