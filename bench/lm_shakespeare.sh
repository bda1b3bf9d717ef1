#!/usr/bin/env bash
# Language-model benchmark of issue 3: a 2x512 LSTM on tiny shakespeare for a
# fixed wall time, printing the validation loss curve (nats/char) from the
# run's metrics.csv. Usage: bench/lm_shakespeare.sh [SECONDS] [extra rnn train flags]
# (default 600 s). The PyTorch reference with the same model and budget is
# bench/lm_shakespeare_torch.py. Then the best model's loss on the validation
# text with a neural cache (README: --cache), beside its own, and with dynamic
# evaluation (README: rnn eval --dynamic).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}; shift || true
data=${RNN_SHARED:-../shared}/data/tinyshakespeare/input.txt
out=${RNN_OUT:-runs/bench-shakespeare-$secs}
make -s rnn >&2
rm -rf "$out"
./rnn train --data "$data" --layers 2 --hidden 512 --embed 64 --seq-len 128 --batch 32 \
    --lr 2e-3 --clip 5 --time "$secs" --eval-every 200 --progress log --log-every 100 \
    --out "$out" "$@" >&2
echo "| step | elapsed s | train tokens | val loss (nats/char) |"
echo "|--:|--:|--:|--:|"
tail -n +2 "$out/metrics.csv" | awk -F, '{ printf "| %d | %.0f | %d | %.4f |\n", $1, $2, $3, $5 }'
val="$out/val.txt" # the training's split: from the first line break after 90% of the file
tail -c +$(($(wc -c <"$data") * 9 / 10 + 1)) "$data" | sed '1d' >"$val"
echo
echo "The best model on the validation text (rnn eval, one sequence), with a neural cache of 2000:"
./rnn eval "$out/model.safetensors" --data "$val" --cache 2000 --cache-theta 0.3 --cache-lambda 0.2
echo
echo "The same with dynamic evaluation (RMS-scaled steps of 2e-4 every 20 characters):"
./rnn eval "$out/model.safetensors" --data "$val" --cache 0 --dynamic 2e-4 --dynamic-rms 0.999
