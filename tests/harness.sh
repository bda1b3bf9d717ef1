# harness.sh: what the shell test scripts share (sourced, after `set -u`):
# the rnn binary and data paths, a scratch directory $T removed at exit (kept
# and named with KEEP=1), and ok / bad / check, which count into pass / fail.
# A script ends with `summary`: "tests/NAME.sh: N passed, N failed", and its
# status, non-zero when a check failed.
RNN=${RNN_BIN:-./rnn}
DATA=${RNN_SHARED:-../shared}/data
T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
summary() { echo "tests/$(basename "$0"): $pass passed, $fail failed"; [ $fail -eq 0 ]; }
