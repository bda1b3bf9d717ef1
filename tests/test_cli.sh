#!/usr/bin/env bash
# test_cli.sh: end-to-end checks of the `rnn` command: training writes a run
# directory, resume gives the same losses as an uninterrupted run, Ctrl-C
# saves, sampling is deterministic and matches PyTorch's greedy output, eval
# matches PyTorch's loss, and bad input gets a one-line error and a non-zero
# exit. Ends with "tests/test_cli.sh: N passed, N failed".
set -u
. "$(dirname "$0")/harness.sh"
# expect_error NAME PATTERN CMD...: non-zero exit, no crash, and the error is one
# line of stderr ("rnn: ...", the last line; progress lines may come before it) matching PATTERN.
expect_error() {
    local name=$1 pat=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && tail -n 1 "$T/err" | grep -q -- "^rnn.*$pat"; then
        ok "$name"
    else
        bad "$name (rc $rc, stderr: $(head -c 300 "$T/err"))"
    fi
}
py_torch() { /usr/bin/python3 -c 'import torch' 2>/dev/null; }
# close A B TOL: |A - B| <= TOL, both given
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t) }'; }

# A small text: the first 60 kB of tiny shakespeare, or a generated one.
if [ -f "$DATA/tinyshakespeare/input.txt" ]; then head -c 60000 "$DATA/tinyshakespeare/input.txt" >"$T/text.txt"
else for i in $(seq 1 3000); do echo "line $i of a small text to learn"; done >"$T/text.txt"; fi

small="--data $T/text.txt --layers 1 --hidden 32 --embed 16 --seq-len 16 --batch 4 --threads 1 --progress log --log-every 0"

# --- training writes a run directory
$RNN train $small --steps 30 --eval-every 15 --out "$T/run" >"$T/log" 2>&1
check "train exits 0" "[ $? -eq 0 ]"
for f in config.txt model.safetensors last.safetensors state.safetensors metrics.csv metrics.svg train.log; do
    check "run dir has $f" "[ -s '$T/run/$f' ]"
done
# --- rnn plot: the run's metrics as an SVG (tests/test_plot.c checks the drawing)
check "metrics.svg draws both validations" "[ \$(grep -o '<circle' '$T/run/metrics.svg' | wc -l) -ge 4 ] && grep -q 'class=\"val_loss\"' '$T/run/metrics.svg'"
out=$($RNN plot "$T/run" --out "$T/plot.svg")
check "rnn plot RUNDIR --out writes the file and prints its path" "[ '$out' = '$T/plot.svg' ] && grep -q '</svg>' '$T/plot.svg'"
cp "$T/run/metrics.csv" "$T/m.csv"
out=$($RNN plot "$T/m.csv")
check "rnn plot FILE.csv writes FILE.svg" "[ '$out' = '$T/m.svg' ] && [ -s '$T/m.svg' ]"
expect_error "plot of a missing run" "nowhere: no such run directory" $RNN plot "$T/nowhere"
mkdir -p "$T/emptyrun"
expect_error "plot of a directory without metrics" "emptyrun/metrics.csv: cannot open" $RNN plot "$T/emptyrun"
printf 'step,train_loss,val_loss,val_acc,lr\n10,1,2,0.5,1e-3\n20,1,oops,0.5,1e-3\n' >"$T/badm.csv"
expect_error "plot of a damaged metrics.csv names file:line" "badm.csv:3" $RNN plot "$T/badm.csv"
expect_error "plot of endless binary input stops at its first NUL" "/dev/zero:1: a NUL byte" timeout 20 $RNN plot /dev/zero
expect_error "plot without a run" "which run" $RNN plot
cp "$T/run/model.safetensors" "$T/keep.safetensors"
expect_error "plot --out a checkpoint is refused" "must be named \*.svg" $RNN plot "$T/run" --out "$T/run/model.safetensors"
check "and the checkpoint is unchanged" "cmp -s '$T/keep.safetensors' '$T/run/model.safetensors'"
mkdir -p "$T/dir.svg"
expect_error "plot --out a directory named .svg" "dir.svg: Is a directory" $RNN plot "$T/run" --out "$T/dir.svg"

# --- rnn COMMAND --help
for c in sample classify eval plot info; do
    out=$($RNN $c --help); rc=$?
    check "rnn $c --help prints its usage and exits 0" "[ $rc -eq 0 ] && printf '%s' \"\$out\" | head -1 | grep -q '^usage: rnn $c '"
done
check "rnn sample --help lists --top-p" "$RNN sample --help | grep -q -- '--top-p P'"
check "rnn sample --help lists --min-p, --repeat-penalty and --repeat-last" \
    "$RNN sample --help | grep -q -- '--min-p P' && $RNN sample --help | grep -q -- '--repeat-penalty X' && $RNN sample --help | grep -q -- '--repeat-last N'"
out=$($RNN sample "$T/run/model.safetensors" --help)
check "sample CKPT --help prints the usage" "printf '%s' \"\$out\" | head -1 | grep -q '^usage: rnn sample'"
for c in sample eval info plot; do
    out=$($RNN $c "$T/run/model.safetensors" -h); rc=$?
    check "rnn $c CKPT -h prints its usage and exits 0, as before CKPT" "[ $rc -eq 0 ] && printf '%s' \"\$out\" | head -1 | grep -q '^usage: rnn $c '"
done
out=$($RNN sample "$T/run/model.safetensors" --prime -h --length 5 --seed 1)
check "a -h that is an option's value is not a help request" "[ \"\${out#-h}\" != \"\$out\" ]"
out=$($RNN classify tests/fixtures/torch_cls.safetensors --help); rc=$?
check "classify CKPT --help prints the usage and exits 0" "[ $rc -eq 0 ] && printf '%s' \"\$out\" | head -1 | grep -q '^usage: rnn classify'"
out=$($RNN classify tests/fixtures/torch_cls.safetensors -- --help)
check "classify CKPT -- --help classifies the text --help" "printf '%s' '$out' | grep -q '^[a-z]*	0\.[0-9]*$'"

# --- rnn info: what a checkpoint holds
out=$($RNN info "$T/run/model.safetensors")
check "info names an LM's task, cell and size" "printf '%s' '$out' | grep -q 'language model' && printf '%s' '$out' | grep -q 'lstm 1 layer x 32' && printf '%s' '$out' | grep -q '^  tokenizer   char, '"
out=$($RNN info tests/fixtures/torch_cls.safetensors)
check "info lists a classifier's classes and pooling" "printf '%s' '$out' | grep -q 'classifier, 3 classes: neg neu pos' && printf '%s' '$out' | grep -q 'gru 2 layers x 10 bidirectional -> attention pooling'"
if command -v python3 >/dev/null; then
    # Oracle: the parameter count is the sum of the tensors' element counts in the file's header.
    check "info --json is JSON whose parameter count is the file's" "$RNN info tests/fixtures/torch_cls.safetensors --json | python3 -c '
import json, struct, sys
j = json.load(sys.stdin)
f = open(\"tests/fixtures/torch_cls.safetensors\", \"rb\"); h = json.loads(f.read(struct.unpack(\"<Q\", f.read(8))[0]))
n = 0
for k, v in h.items():
    if k != \"__metadata__\":
        e = 1
        for d in v[\"shape\"]: e *= d
        n += e
sys.exit(not (j[\"parameters\"] == n and j[\"task\"] == \"classify\" and j[\"labels\"] == [\"neg\", \"neu\", \"pos\"] and j[\"config\"][\"cell\"] == \"gru\"))'"
fi
expect_error "info on a missing checkpoint" "none.safetensors" $RNN info "$T/none.safetensors"
expect_error "info on a text file" "text.txt" $RNN info "$T/text.txt"
expect_error "a file name with a trailing slash names no file for train either" "text.txt/: cannot open: Not a directory" \
    $RNN train $small --data "$T/text.txt/" --steps 1 --out "$T/slash"
expect_error "... nor with a dot after it" "text.txt/: cannot open: Not a directory" \
    $RNN train $small --data "$T/text.txt/." --steps 1 --out "$T/slash"
$RNN train $small --steps 1 --out "$T/newslash/" >"$T/out" 2>&1
check "a new --out with a trailing slash is the directory it names (no '//' in its paths)" \
    "[ -s '$T/newslash/model.safetensors' ] && grep -q 'newslash/model.safetensors$' '$T/out' && ! grep -q '//' '$T/out' '$T/newslash/config.txt'"
check "metrics.csv has header + 2 evaluations" "[ \$(wc -l <'$T/run/metrics.csv') -eq 3 ]"
check "metrics.csv header" "head -1 '$T/run/metrics.csv' | grep -q '^step,elapsed_s,tokens,train_loss,val_loss'"

# --- resume: 30 steps in one go == 15 steps, then --resume to 30
$RNN train $small --steps 15 --eval-every 15 --out "$T/half" >/dev/null 2>&1
$RNN train --resume "$T/half" --steps 30 >/dev/null 2>&1
check "resume exits 0" "[ $? -eq 0 ]"
a=$(sed -n 3p "$T/run/metrics.csv" | cut -d, -f1,4,5); b=$(sed -n 3p "$T/half/metrics.csv" | cut -d, -f1,4,5)
check "resumed run has the same step-30 train/val loss ($a vs $b)" "[ -n '$a' ] && [ '$a' = '$b' ]"
# a resume checks its data against the run's (fingerprints in the state), and finds it from anywhere
mkdir -p "$T/rel"; cp "$T/text.txt" "$T/rel/own.txt"
(cd "$T/rel" && $RNN train ${small/--data $T\/text.txt/--data own.txt} --steps 4 --eval-every 2 --out own) >/dev/null 2>&1
check "config.txt records --data as an absolute path" "grep -qx 'data = $T/rel/own.txt' '$T/rel/own/config.txt'"
$RNN train --resume "$T/rel/own" --steps 6 >/dev/null 2>&1
check "a run given a relative --data resumes from another directory" "[ \$(tail -n 1 '$T/rel/own/metrics.csv' | cut -d, -f1) = 6 ]"
(cd "$T" && $RNN train --resume rel/own --data rel/own.txt --steps 8) >/dev/null 2>&1
check "... and takes --data naming the same file relative to here" "[ \$(tail -n 1 '$T/rel/own/metrics.csv' | cut -d, -f1) = 8 ]"
LC_ALL=C sed -i '1s/First/Firts/' "$T/rel/own.txt"
expect_error "a resume whose data changed, same length" \
    "data .*rel/own.txt is not what this run trained on (5[0-9]* tokens then, 5[0-9]* now, other ones): a resume goes on with the same data; put it back, or train on the new data from this run's model with --init-from .*rel/own/last.safetensors" \
    $RNN train --resume "$T/rel/own" --steps 10
head -c 3000 "$T/text.txt" >"$T/rel/own.txt"
expect_error "a resume whose data shrank (not a damaged batch number)" "own.txt is not what this run trained on (5[0-9]* tokens then, 27[0-9][0-9] now)" \
    $RNN train --resume "$T/rel/own" --steps 10
cp "$T/text.txt" "$T/rel/own.txt"
$RNN train --resume "$T/rel/own" --steps 10 >/dev/null 2>&1
check "the data put back, it resumes" "[ \$(tail -n 1 '$T/rel/own/metrics.csv' | cut -d, -f1) = 10 ]"
check "a resume writes config.txt again with its own --steps" "grep -qx 'steps = 10' '$T/rel/own/config.txt'"
mv "$T/rel/own/model.safetensors" "$T/rel/own-best.safetensors"
expect_error "a resume whose best model is gone says so, not that it is there at the end" \
    "own/model.safetensors: missing, but the run validated and saved its best model there: put it back to resume, or train on from this run's weights with --init-from .*own/last.safetensors" \
    $RNN train --resume "$T/rel/own" --steps 11
mv "$T/rel/own-best.safetensors" "$T/rel/own/model.safetensors"
cp "$T/rel/own/model.safetensors" "$T/rel/own-best.safetensors"
head -c 100 "$T/rel/own-best.safetensors" >"$T/rel/own/model.safetensors"
expect_error "a resume whose best model is damaged says so, not that it is there at the end" \
    "own/model.safetensors: not a safetensors file: .*(the run's best model, which a resume keeps unless it does better" \
    $RNN train --resume "$T/rel/own" --steps 11
cp tests/fixtures/torch_lm.safetensors "$T/rel/own/model.safetensors"
expect_error "a resume whose best model is another run's says so" \
    "own/model.safetensors: not this run's model (its architecture differs from the resume state's, or it has none): put back the run's own to resume, or train on from this run's weights with --init-from .*own/last.safetensors" \
    $RNN train --resume "$T/rel/own" --steps 11
mv "$T/rel/own-best.safetensors" "$T/rel/own/model.safetensors"
# rows logged after the last saved state (a state that failed to save) are dropped on resuming
tail -n 1 "$T/rel/own/metrics.csv" | sed 's/^10,/12,/' >>"$T/rel/own/metrics.csv"; printf '14,1.5,torn' >>"$T/rel/own/metrics.csv"
$RNN train --resume "$T/rel/own" --steps 12 >"$T/rel/trim.log" 2>&1
check "a resume drops metrics.csv's rows after its state's step, and says so" \
    "[ \"\$(cut -d, -f1 '$T/rel/own/metrics.csv' | tr '\n' ' ')\" = 'step 2 4 6 8 10 12 ' ] && grep -q 'metrics.csv had rows after step 10, whose state was never saved' '$T/rel/trim.log'"
mkdir -p "$T/rel/sub"
(cd "$T/rel/sub" && $RNN train ${small/--data $T\/text.txt/--data ..\/own.txt} --steps 2 --eval-every 2 --out ../dots) >/dev/null 2>&1
(cd "$T" && $RNN train --resume rel/dots --data ./rel//own.txt --steps 4) >/dev/null 2>&1
check "a resume takes --data naming the file through .. or ./ or //" "[ \$(tail -n 1 '$T/rel/dots/metrics.csv' | cut -d, -f1) = 4 ]"
(cd "$T" && $RNN train --resume rel/dots --out ./rel/dots/ --steps 6) >/dev/null 2>&1
check "... and --out naming its directory another way (config.txt: $(grep '^out' "$T/rel/dots/config.txt"))" \
    "[ \$(tail -n 1 '$T/rel/dots/metrics.csv' | cut -d, -f1) = 6 ] && grep -qx 'out = $T/rel/dots' '$T/rel/dots/config.txt'"
# a link's .. is its target's parent: the file recorded is the one read
mkdir -p "$T/rel/other/deep"; ln -sfn other/deep "$T/rel/lk"; head -c 20000 "$T/text.txt" | tr 'a-z' 'z' >"$T/rel/other/own.txt"
(cd "$T/rel" && $RNN train ${small/--data $T\/text.txt/--data lk\/..\/own.txt} --steps 1 --out lkrun) >/dev/null 2>&1
check "--data through a link's .. records the file it read" "grep -qx 'data = $T/rel/other/own.txt' '$T/rel/lkrun/config.txt'"
# a WordPiece vocabulary is recorded as an absolute path too: --config reruns from anywhere
(printf '[PAD]\n[UNK]\n'; for c in a b c d e f g h i j k l m n o p q r s t u v w x y z , . :; do printf '%s\n##%s\n' "$c" "$c"; done) >"$T/rel/wp.txt"
(cd "$T/rel" && $RNN train ${small/--data $T\/text.txt/--data own.txt} --tokenizer wordpiece:wp.txt --steps 2 --eval-every 2 --out wprun) >/dev/null 2>&1
(cd / && $RNN train --config "$T/rel/wprun/config.txt" --steps 1 --out "$T/rel/wprun2") >/dev/null 2>&1
check "config.txt records a wordpiece vocabulary's absolute path, and --config runs it from /" \
    "grep -qx 'tokenizer = wordpiece:$T/rel/wp.txt' '$T/rel/wprun/config.txt' && [ -s '$T/rel/wprun2/model.safetensors' ]"
(cd "$T/rel" && $RNN train --resume wprun --tokenizer wordpiece:./wp.txt --steps 4) >/dev/null 2>&1
check "... and a resume takes the vocabulary named another way" "[ \$(tail -n 1 '$T/rel/wprun/metrics.csv' | cut -d, -f1) = 4 ]"
# a wordpiece language model keeps its text's line breaks, a token past the vocabulary file's
wpinfo=$($RNN info "$T/rel/wprun/model.safetensors" --json)
check "a wordpiece LM has a line-break token ($(printf '%s' "$wpinfo" | grep -o '"vocab_size": [0-9]*'))" \
    "printf '%s' '$wpinfo' | grep -q '\"vocab_size\": 61, .*\"keep_newlines\": true' && [ \$(wc -l <'$T/rel/wp.txt') = 60 ]"
# fine-tuning keeps a wordpiece model's vocabulary: the same file is taken, another refused
head -n 50 "$T/rel/wp.txt" >"$T/rel/wp50.txt"
$RNN train ${small/--data $T\/text.txt/--data $T\/rel\/own.txt} --init-from "$T/rel/wprun/model.safetensors" --tokenizer "wordpiece:$T/rel/wp.txt" --steps 1 --out "$T/rel/wpft" >/dev/null 2>&1
check "--init-from a wordpiece model with --tokenizer wordpiece:its own vocabulary" "[ -s '$T/rel/wpft/model.safetensors' ]"
# rnn tokenize: the ids a model reads each line of stdin as (wp.txt: [PAD] [UNK] a ##a b ##b c ##c ...)
out=$(printf 'abc\n\nc, a\n' | $RNN tokenize "$T/rel/wprun/model.safetensors" | tr '\n' '|')
js=$(printf 'abc\n' | $RNN tokenize "$T/rel/wprun/model.safetensors" --json)
check "rnn tokenize prints each line's ids, and --json its tokens ($out $js)" \
    "[ '$out' = '2 5 7||6 54 2|' ] && [ '$js' = '{\"ids\": [2, 5, 7], \"tokens\": [\"a\", \"##b\", \"##c\"]}' ]"
expect_error "rnn tokenize names a line it cannot read" "tokenize: stdin line 2: .*invalid UTF-8" \
    bash -c "printf 'abc\\n\\xff\\n' | $RNN tokenize '$T/rel/wprun/model.safetensors'"
expect_error "--init-from a wordpiece model with another vocabulary" \
    "--tokenizer wordpiece:.*wp50.txt: its vocabulary is not that of --init-from .*wprun/model.safetensors (51 tokens against 61), and fine-tuning keeps its tokenizer" \
    $RNN train ${small/--data $T\/text.txt/--data $T\/rel\/own.txt} --init-from "$T/rel/wprun/model.safetensors" --tokenizer "wordpiece:$T/rel/wp50.txt" --steps 1 --out "$T/rel/x"
$RNN train $small --steps 2 --eval-every 2 --init-from "$T/rel/own/model.safetensors" --out "$T/rel/ft" >/dev/null 2>&1
$RNN train --resume "$T/rel/ft" --steps 4 >/dev/null 2>&1
$RNN train --config "$T/rel/ft/config.txt" --steps 1 --out "$T/rel/ft_again" >/dev/null 2>&1
check "a resumed fine-tuning's config.txt still says --init-from, so --config reruns it" \
    "grep -qx 'init-from = $T/rel/own/model.safetensors' '$T/rel/ft/config.txt' && [ -s '$T/rel/ft_again/model.safetensors' ]"

# --- a damaged resume state: every number and tensor of it is checked before training goes on
DMG="python3 tests/ref/damage.py"
damaged_state() { # NAME OP ARGS...: a copy of the run in $T/dmg_NAME with its state damaged
    local n=$1; shift
    rm -rf "$T/dmg_$n"; cp -r "$T/half" "$T/dmg_$n"
    $DMG "$T/half/state.safetensors" "$T/dmg_$n/state.safetensors" "$@"
}
if command -v python3 >/dev/null; then
    damaged_state batch meta train.batch -1
    expect_error "a state with a negative batch position" 'dmg_batch/state.safetensors: resume state "train.batch" is -1, outside \[0, [0-9]*\]: a damaged file' \
        $RNN train --resume "$T/dmg_batch" --steps 31
    damaged_state elapsed meta train.elapsed nan
    expect_error "a state with a NaN elapsed time" 'resume state "train.elapsed" is nan, outside' \
        timeout 60 $RNN train --resume "$T/dmg_elapsed" --time 5
    damaged_state empty meta train.step ""
    expect_error "a state with an empty step" 'resume state "train.step" is not a number' $RNN train --resume "$T/dmg_empty" --steps 31
    damaged_state plus meta train.step "+15"
    expect_error "a state with a signed step" 'resume state "train.step" is not a number' $RNN train --resume "$T/dmg_plus" --steps 31
    # numbers each in range that do not go together (epoch x steps an epoch + batch = step; tokens)
    damaged_state stepclash meta train.step 99999999
    expect_error "a state whose step is not its epoch and batch" 'resume state "train.step" is 99999999 but epoch [0-9]* of [0-9]* batches and batch [0-9]* make [0-9]*: a damaged file' \
        $RNN train --resume "$T/dmg_stepclash" --steps 100000000
    damaged_state epochclash meta train.epoch 7
    expect_error "a state whose epoch is not its step's" 'resume state "train.step" is 30 but epoch 7 of [0-9]* batches and batch [0-9]* make [0-9]*: a damaged file' \
        $RNN train --resume "$T/dmg_epochclash" --steps 31
    damaged_state tokclash meta train.tokens 1
    expect_error "a state whose tokens are not its steps' batches" 'resume state "train.tokens" is 1 after 30 steps of --batch x --seq-len tokens: a damaged file' \
        $RNN train --resume "$T/dmg_tokclash" --steps 31
    damaged_state rng meta train.rng0 -1
    expect_error "a state with a negative random state" 'resume state "train.rng0" is -1, not a 64-bit whole number' \
        $RNN train --resume "$T/dmg_rng" --steps 31
    damaged_state best meta train.best_val -1
    expect_error "a state with a negative best loss" 'resume state "train.best_val" is -1: a damaged file' \
        $RNN train --resume "$T/dmg_best" --steps 31
    cp "$T/half/model.safetensors" "$T/half_model_before"
    damaged_state nan f32 train.optim.exp_avg 0 nan
    expect_error "a state with a NaN optimizer moment" "tensor 'train.optim.exp_avg' holds nan at index 0: a damaged file" \
        $RNN train --resume "$T/dmg_nan" --steps 31
    check "... and the run's model is kept as it was" "cmp -s '$T/half_model_before' '$T/dmg_nan/model.safetensors'"
    damaged_state sq f32 train.optim.exp_avg_sq 3 -1
    expect_error "a state with a negative second moment" "tensor 'train.optim.exp_avg_sq' holds -1 at index 3" \
        $RNN train --resume "$T/dmg_sq" --steps 31
    damaged_state res cfg residual true
    expect_error "a state whose model is not the run's" "dmg_res/state.safetensors: its model's residual is not the run's (.*config.txt): a damaged file" \
        $RNN train --resume "$T/dmg_res" --steps 31
    # the model's own config: unknown keys, numbers past their type, trailing text
    $DMG "$T/run/model.safetensors" "$T/key.safetensors" cfg dropout raw:dropouT
    expect_error "a config key this build does not know" 'config: unknown key "dropouT"' $RNN info "$T/key.safetensors"
    $DMG "$T/run/model.safetensors" "$T/fb.safetensors" cfg forget_bias 1e39
    expect_error "a config float past float's range" 'config: "forget_bias" must be a finite number' $RNN info "$T/fb.safetensors"
    $DMG "$T/run/model.safetensors" "$T/hd.safetensors" cfg hidden_dim 1e20
    expect_error "a config integer past int's range" 'config: "hidden_dim" must be an integer' $RNN info "$T/hd.safetensors"
fi

# --- resume with a random or averaged part of training: `resumed NAME WHAT FLAGS...`
# trains 30 steps in one go and 15 + a resume to 30 with FLAGS, checks the
# step-30 losses agree, and leaves them in $b (step,train,val).
resumed() {
    local n=$1 what=$2; shift 2
    $RNN train $small "$@" --steps 30 --eval-every 15 --out "$T/${n}full" >/dev/null 2>&1
    $RNN train $small "$@" --steps 15 --eval-every 15 --out "$T/${n}half" >/dev/null 2>&1
    $RNN train --resume "$T/${n}half" --steps 30 >/dev/null 2>&1
    a=$(sed -n 3p "$T/${n}full/metrics.csv" | cut -d, -f1,4,5); b=$(sed -n 3p "$T/${n}half/metrics.csv" | cut -d, -f1,4,5)
    check "$what resumed run has the same step-30 losses ($a vs $b)" "[ -n '$a' ] && [ '$a' = '$b' ]"
}
# the column of the step-30 line of the plain run above and of $b: 2 train loss, 3 val loss
changes() {
    local what=$1 col=$2 c d
    c=$(sed -n 3p "$T/run/metrics.csv" | cut -d, -f$((col + 2))); d=$(echo "$b" | cut -d, -f$col)
    check "$what ($c without, $d with)" "[ -n '$c' ] && [ -n '$d' ] && [ '$c' != '$d' ]"
}

# --ema (the average is part of the resume state) and --weight-drop
resumed ema "--ema/--weight-drop" --ema 0.9 --weight-drop 0.3
changes "--ema/--weight-drop change the validation loss" 3
expect_error "--ema out of range" "--ema must be in" $RNN train $small --ema 1 --steps 1 --out "$T/x"
expect_error "--ema -0.1: the value as typed, not the float's 9 digits" "--ema must be in \[0, 1) (got -0.1)\$" \
    $RNN train $small --ema -0.1 --steps 1 --out "$T/x"
expect_error "--seq-len 2147483647: the tokens needed, not an int that overflowed" \
    "too few tokens for --batch 4 x --seq-len 2147483647: [0-9]*, where more than 8589934592 are needed" \
    $RNN train $small --seq-len 2147483647 --steps 1 --out "$T/x"
expect_error "--weight-drop out of range" "--weight-drop must be in \[0, 1) (got 1.5)" $RNN train $small --weight-drop 1.5 --steps 1 --out "$T/x"
expect_error "--dropout out of range on one layer: the range first, not 'does nothing'" "--dropout must be in \[0, 1) (got 1.5)" \
    $RNN train $small --dropout 1.5 --steps 1 --out "$T/x"

# train.log's step lines (--log-every) of a run stopped off them (step 13) and resumed are the straight run's
$RNN train $small --log-every 10 --steps 30 --eval-every 15 --out "$T/logfull" >/dev/null 2>&1
$RNN train $small --log-every 10 --steps 13 --eval-every 15 --out "$T/loghalf" >/dev/null 2>&1
$RNN train --resume "$T/loghalf" --steps 30 >/dev/null 2>&1
a=$(grep -o '^step [0-9]* epoch [0-9]* loss [0-9.]*' "$T/logfull/train.log" | tr '\n' ' ')
b=$(grep -o '^step [0-9]* epoch [0-9]* loss [0-9.]*' "$T/loghalf/train.log" | tr '\n' ' ')
check "train.log's step lines of a resumed run are the straight run's ($b)" "[ -n '$a' ] && [ '$a' = '$b' ]"

# --recurrent-dropout: its masks are part of the random state a resume restores
resumed rd "--recurrent-dropout" --recurrent-dropout 0.3
changes "--recurrent-dropout changes the training loss" 2
check "--recurrent-dropout is saved with the model" \
    "$RNN info '$T/rdfull/model.safetensors' --json | grep -q '\"recurrent_dropout\": *0.3'"
expect_error "--recurrent-dropout on a vanilla RNN" "recurrent_dropout.*needs an lstm or gru" \
    $RNN train $small --cell rnn_tanh --recurrent-dropout 0.2 --steps 1 --out "$T/x"
expect_error "--recurrent-dropout out of range" "recurrent_dropout (--recurrent-dropout) must be in" \
    $RNN train $small --recurrent-dropout 1 --steps 1 --out "$T/x"

# --word-dropout: drawn from the random state a resume restores
resumed wd "--word-dropout" --word-dropout 0.2
changes "--word-dropout changes the training loss" 2
expect_error "--word-dropout out of range" "--word-dropout must be in" $RNN train $small --word-dropout 1 --steps 1 --out "$T/x"
expect_error "--word-dropout with the byte tokenizer" "needs a tokenizer with an unknown token (byte" \
    $RNN train $small --tokenizer byte --word-dropout 0.1 --steps 1 --out "$T/x"

# --random-offset: epoch 2 of a 30-batch text reads other batches, and a run
# resumed in it (at step 45 of 60) reads the same ones
head -c 2200 "$T/text.txt" >"$T/short.txt"
ro="$small --data $T/short.txt --eval-every 15"
$RNN train $ro --steps 60 --out "$T/rooff" >/dev/null 2>&1
$RNN train $ro --random-offset --steps 60 --out "$T/rofull" >/dev/null 2>&1
$RNN train $ro --random-offset --steps 45 --out "$T/rohalf" >/dev/null 2>&1
$RNN train --resume "$T/rohalf" --steps 60 >/dev/null 2>&1
a=$(sed -n 5p "$T/rofull/metrics.csv" | cut -d, -f1,4,5); b=$(sed -n 5p "$T/rohalf/metrics.csv" | cut -d, -f1,4,5)
check "--random-offset resumed run has the same step-60 losses ($a vs $b)" "[ -n '$a' ] && [ '$a' = '$b' ]"
c=$(sed -n 5p "$T/rooff/metrics.csv" | cut -d, -f1,4); d=$(sed -n 5p "$T/rofull/metrics.csv" | cut -d, -f1,4)
check "--random-offset changes the training loss in the second epoch ($c without, $d with)" \
    "[ -n '$c' ] && [ -n '$d' ] && [ '$c' != '$d' ]"
c=$(sed -n 3p "$T/rooff/metrics.csv" | cut -d, -f1,4,5); d=$(sed -n 3p "$T/rofull/metrics.csv" | cut -d, -f1,4,5)
check "... and not in the first, steps 1-30 ($c, $d)" "[ -n '$c' ] && [ '$c' = '$d' ]"
printf 'pos\tgood\nneg\tbad\n' >"$T/ro.tsv"
expect_error "--random-offset for a classifier" "random-offset" \
    $RNN train --task classify --data "$T/ro.tsv" --random-offset --steps 1 --out "$T/x"

# a fine-tuning run (--init-from) resumes too: its config.txt names the model it
# started from, which the resume does not load again
resumed ft "--init-from (fine-tuning)" --init-from "$T/run/model.safetensors"
# --init-from fixes the model's shape and tokenizer: other values are refused, and config.txt says what is trained
expect_error "--init-from with another --hidden" "--hidden 64: the model of --init-from .* has 32" \
    $RNN train --data "$T/text.txt" --init-from "$T/run/model.safetensors" --hidden 64 --steps 1 --out "$T/x"
expect_error "--init-from with another --cell" "--cell gru: the model of --init-from .* is a lstm" \
    $RNN train --data "$T/text.txt" --init-from "$T/run/model.safetensors" --cell gru --steps 1 --out "$T/x"
expect_error "--init-from with another --tokenizer" "--tokenizer byte: fine-tuning keeps the tokenizer" \
    $RNN train --data "$T/text.txt" --init-from "$T/run/model.safetensors" --tokenizer byte --steps 1 --out "$T/x"
expect_error "--init-from with --lowercase the model's tokenizer lacks" "--lowercase: the tokenizer of --init-from .* has lowercase off, and fine-tuning keeps its tokenizer" \
    $RNN train --data "$T/text.txt" --init-from "$T/run/model.safetensors" --lowercase --steps 1 --out "$T/x"
# a flag given at its built-in default is given all the same (--layers 2 is the default; the model has 1)
expect_error "--init-from with --layers at its default value" "--layers 2: the model of --init-from .* has 1, and fine-tuning keeps its shape" \
    $RNN train --data "$T/text.txt" --init-from "$T/run/model.safetensors" --layers 2 --steps 1 --out "$T/x"
printf 'cell = lstm\nlayers = 1\n' >"$T/ftsame.cfg" # (the model's own values: accepted)
$RNN train --config "$T/ftsame.cfg" --data "$T/text.txt" --init-from "$T/run/model.safetensors" --steps 1 --threads 1 --out "$T/ftsame" >/dev/null 2>&1
check "--init-from with the model's own --cell and --layers from a --config file" "[ -s '$T/ftsame/model.safetensors' ]"
expect_error "--forget-bias with --init-from (an initialisation; the weights are trained)" "--forget-bias 1: the weights of --init-from .* are trained ones" \
    $RNN train --data "$T/text.txt" --init-from "$T/run/model.safetensors" --forget-bias 1 --steps 1 --out "$T/x"
expect_error "--init-from with --min-count" "--min-count: fine-tuning keeps the vocabulary of --init-from .* (--grow-vocab adds to it)" \
    $RNN train --data "$T/text.txt" --init-from "$T/run/model.safetensors" --min-count 3 --steps 1 --out "$T/x"
# --grow-vocab: fine-tuning on text with characters the model never saw adds them (and resumes exactly)
{ head -c 3000 "$T/text.txt"; for i in $(seq 1 60); do printf 'ACT %d, SCENE %d: caf\xc3\xa9 \xc2\xabna\xc3\xafve\xc2\xbb\n' $i $((i * 7)); done; } >"$T/grow.txt"
$RNN train $small --data "$T/grow.txt" --init-from "$T/run/model.safetensors" --grow-vocab --steps 4 --out "$T/grow" >"$T/grow.log" 2>&1
v0=$($RNN info "$T/run/model.safetensors" --json | grep -o '"vocab_size": [0-9]*' | head -1 | grep -o '[0-9]*$')
v1=$($RNN info "$T/grow/model.safetensors" --json | grep -o '"vocab_size": [0-9]*' | head -1 | grep -o '[0-9]*$')
u0=$($RNN eval "$T/run/model.safetensors" --data "$T/grow.txt" --json | grep -o '"unk": [0-9]*' | grep -o '[0-9]*$')
u1=$($RNN eval "$T/grow/model.safetensors" --data "$T/grow.txt" --json | grep -o '"unk": [0-9]*' | grep -o '[0-9]*$')
check "--grow-vocab adds the fine-tuning text's new characters ($v0 -> $v1 tokens; unknown in it: $u0 -> $u1)" \
    "grep -q -- '--grow-vocab: [0-9]* tokens of .*grow.txt added to the vocabulary ($v0 -> $v1): ' '$T/grow.log' && [ -n '$v1' ] && [ $v1 -gt $v0 ] && [ '$u0' -gt 0 ] && [ '$u1' = 0 ]"
resumed grow "--grow-vocab (fine-tuning)" --data "$T/grow.txt" --init-from "$T/run/model.safetensors" --grow-vocab
v=$($RNN info "$T/run/model.safetensors" --json | grep -o '"vocab_size": [0-9]*' | head -1 | grep -o '[0-9]*$')
$RNN train $small --data "$T/grow.txt" --init-from "$T/run/model.safetensors" --grow-vocab --max-vocab "$v" --steps 1 --out "$T/grow2" >"$T/grow2.log" 2>&1
check "--grow-vocab with --max-vocab at the vocabulary's size says there is no room" \
    "grep -q -- '--grow-vocab: --max-vocab $v leaves no room for new tokens' '$T/grow2.log'"
{ printf '\xc3\xa9'; for i in $(seq 1 16); do printf ' 0.5'; done; printf '\ne'; for i in $(seq 1 16); do printf ' 0.25'; done; printf '\n'; } >"$T/vec16.txt"
$RNN train $small --data "$T/grow.txt" --init-from "$T/run/model.safetensors" --grow-vocab --vectors "$T/vec16.txt" --steps 1 --out "$T/grow3" >"$T/grow3.log" 2>&1
check "--vectors with --grow-vocab gives the new tokens' rows only (e-acute, not e)" \
    "grep -q 'vectors .*vec16.txt: 1 of [0-9]* new tokens covered' '$T/grow3.log'"
expect_error "--vectors when fine-tuning without --grow-vocab" "--vectors .*vec16.txt: a fine-tuned model's embedding is trained already" \
    $RNN train $small --init-from "$T/run/model.safetensors" --vectors "$T/vec16.txt" --steps 1 --out "$T/x"
expect_error "--grow-vocab with --freeze-embedding" "--grow-vocab with --freeze-embedding: the new tokens' rows would keep" \
    $RNN train $small --data "$T/grow.txt" --init-from "$T/run/model.safetensors" --grow-vocab --freeze-embedding --steps 1 --out "$T/x"
$RNN train $small --data "$T/grow.txt" --init-from "$T/run/model.safetensors" --grow-vocab --vectors "$T/vec16.txt" --freeze-embedding --steps 1 --out "$T/grow4" >"$T/grow4.log" 2>&1
check "--grow-vocab --freeze-embedding with --vectors trains, naming the new rows the vectors lack" \
    "[ -s '$T/grow4/model.safetensors' ] && grep -q 'warning: --freeze-embedding: [1-9][0-9]* new tokens the vectors lack keep the mean of the old rows' '$T/grow4.log'"
expect_error "--grow-vocab without --init-from" "--grow-vocab adds tokens to a fine-tuned model's vocabulary: give --init-from" \
    $RNN train $small --grow-vocab --steps 1 --out "$T/x"
$RNN train --data "$T/text.txt" --init-from "$T/run/model.safetensors" --steps 1 --threads 1 --out "$T/ftcfg" >/dev/null 2>&1
check "a fine-tuning run's config.txt has the model's shape, not the defaults" \
    "grep -q '^hidden = 32' '$T/ftcfg/config.txt' && grep -q '^embed = 16' '$T/ftcfg/config.txt' && grep -q '^layers = 1' '$T/ftcfg/config.txt'"
long=$(printf 'd%.0s' $(seq 1 200)); long="$T/$long/$long/$long"
expect_error "--resume with a path too long for an option" "option --resume: value too long (6[0-9][0-9] characters, max 511)" \
    $RNN train --resume "$long"
expect_error "--resume with an --init-from flag" "--resume and --init-from cannot be combined" \
    $RNN train --resume "$T/fthalf" --init-from "$T/run/model.safetensors" --steps 31
expect_error "--resume with an --init-backward flag" "--resume and --init-backward cannot be combined" \
    $RNN train --resume "$T/half" --init-backward "$T/run/model.safetensors" --steps 31

# --- a resume cannot change what defines the run (it would be ignored); how long it goes on, it can
expect_error "--resume with another --hidden" "--hidden cannot change when resuming .*half (its config.txt has \"32\", here \"64\")" \
    $RNN train --resume "$T/half" --hidden 64 --steps 40
expect_error "--resume with another --batch" "--batch cannot change when resuming" $RNN train --resume "$T/half" --batch 2 --steps 40
expect_error "--resume with another --data" "--data cannot change when resuming" \
    $RNN train --resume "$T/half" --data "$T/text.txt.other" --steps 40
printf 'hidden = 8\n' >"$T/hid.cfg"
expect_error "--resume with a --config that changes the model" "--hidden cannot change when resuming" \
    $RNN train --resume "$T/half" --config "$T/hid.cfg" --steps 40
# the state keeps the run's options: an edited or emptied config.txt is caught, not trusted
cp -r "$T/half" "$T/halfed"
sed -i 's/^hidden = 32$/hidden = 48/' "$T/halfed/config.txt"
expect_error "--resume of a run whose config.txt was edited" "halfed/config.txt, then any settings) do not match the run's saved state: hidden = \"48\" here, \"32\" in the state" \
    $RNN train --resume "$T/halfed" --steps 40
: >"$T/halfed/config.txt"
expect_error "--resume of a run whose config.txt was emptied" "do not match the run's saved state" \
    $RNN train --resume "$T/halfed" --steps 40
cp -r "$T/half" "$T/halfdata"; cp "$T/text.txt" "$T/other.txt"
sed -i "s|^data = .*|data = $T/other.txt|" "$T/halfdata/config.txt"
expect_error "an edited data line is named before any data is read" "do not match the run's saved state: data = " \
    $RNN train --resume "$T/halfdata" --steps 40

# --- a run whose setup fails writes nothing: an --overwrite target keeps its old run whole,
# and a new --out is not left behind
md5sum "$T/half/"*.safetensors "$T/half/config.txt" "$T/half/metrics.csv" >"$T/half.md5"
expect_error "--overwrite with missing data" "nope.txt: cannot open" $RNN train --data "$T/nope.txt" --out "$T/half" --overwrite
check "and the run it would have replaced is whole" "md5sum -c --quiet '$T/half.md5'"
expect_error "a new --out with missing data" "nope.txt: cannot open" $RNN train --data "$T/nope.txt" --out "$T/newdir/run"
check "leaves no run directory, nor the parents it made" "[ ! -e '$T/newdir' ]"
: >"$T/afile"
expect_error "--out of a file" "afile: not a directory" $RNN train $small --steps 1 --out "$T/afile"

# --- an --out that holds a run is refused unless --overwrite: nothing in it changes
cp "$T/run/model.safetensors" "$T/run.before"
expect_error "--out of an existing run" "run already holds a run (model.safetensors): choose another --out .*, --resume .* continues it, or --overwrite deletes it" \
    $RNN train $small --steps 2 --out "$T/run"
check "the refused run left the model as it was" "cmp -s '$T/run/model.safetensors' '$T/run.before'"
check "and its config.txt" "grep -q '^steps = 30' '$T/run/config.txt'"
$RNN train $small --steps 2 --out "$T/half" --overwrite >/dev/null 2>&1
check "--overwrite replaces a run" "[ \$? -eq 0 ] && grep -q '^steps = 2' '$T/half/config.txt' && ! grep -q overwrite '$T/half/config.txt'"

# --- a log line's loss is the mean over the steps since the line before (not the progress
# bar's half-second window, which repeated itself on lines logged faster than that): the
# two lines of a validation interval average to metrics.csv's train_loss for it
$RNN train $small --log-every 10 --eval-every 20 --steps 20 --out "$T/logm" >"$T/out" 2>&1
l10=$(sed -n 's/^step 10 epoch [0-9]* loss \([0-9.]*\) .*/\1/p' "$T/logm/train.log")
l20=$(sed -n 's/^step 20 epoch [0-9]* loss \([0-9.]*\) .*/\1/p' "$T/logm/train.log")
tl=$(awk -F, '$1 == 20 { print $4 }' "$T/logm/metrics.csv")
check "log lines hold their own steps' mean loss (step 10 $l10, step 20 $l20, metrics $tl)" \
    "[ -n '$l10' ] && [ '$l10' != '$l20' ] && close \$(awk 'BEGIN { print ($l10 + $l20) / 2 }') '$tl' 0.0002"

# --- a stop between --eval-every validations is validated, but changes nothing a resume goes on
# with: 20 steps then a resume to 40 are the straight 40 steps, with the plateau schedule and --patience
# (at lr 6 the validation at step 20 is worse than step 18's: it cut the lr, or stopped the run)
for extra in "--schedule plateau --lr-patience 0 --factor 0.5" "--patience 1"; do
    $RNN train $small --seq-len 8 --optimizer sgd --lr 6 --eval-every 6 $extra --steps 40 --seed 7 --out "$T/og_s" --overwrite >/dev/null 2>&1
    $RNN train $small --seq-len 8 --optimizer sgd --lr 6 --eval-every 6 $extra --steps 20 --seed 7 --out "$T/og_p" --overwrite >/dev/null 2>&1
    $RNN train --resume "$T/og_p" --steps 40 >/dev/null 2>&1
    check "a stop off the --eval-every grid, then a resume: the straight run's weights and lr ($extra)" \
        "[ -s '$T/og_s/last.safetensors' ] && cmp -s '$T/og_s/last.safetensors' '$T/og_p/last.safetensors' && [ \"\$(cut -d, -f1,8 '$T/og_s/metrics.csv' | tail -n 2)\" = \"\$(cut -d, -f1,8 '$T/og_p/metrics.csv' | tail -n 2)\" ]"
    a=$(awk -F, '$1 == 24 { print $4 }' "$T/og_s/metrics.csv"); b=$(awk -F, '$1 == 24 { print $4 }' "$T/og_p/metrics.csv")
    check "... and the next row's training loss, the mean since step 18 in both ($a, $b; $extra)" "[ -n '$a' ] && [ '$a' = '$b' ]"
done
# a resume with another --lr scales the plateau schedule's current lr (its cuts kept)
$RNN train $small --optimizer sgd --lr 1 --schedule plateau --steps 10 --eval-every 5 --out "$T/pl" >/dev/null 2>&1
$RNN train --resume "$T/pl" --lr 0.1 --steps 20 >"$T/pl.log" 2>&1
check "a resume's --lr sets the plateau schedule's lr" \
    "grep -q -- '--lr 0.1 (was 1): the plateau schedule.s current lr goes from 1 to 0.1' '$T/pl.log' && [ \$(awk -F, '\$1 == 20 { print \$8 }' '$T/pl/metrics.csv') = 1.000000e-01 ]"

# --- a diverging run stops with an error and saves nothing of it; epsilon 0 is refused
$RNN train $small --steps 15 --eval-every 15 --out "$T/div" >/dev/null 2>&1
cp "$T/div/model.safetensors" "$T/div.before"; cp "$T/div/config.txt" "$T/div.cfg"
expect_error "a diverged run names the step, and what its directory keeps" \
    "step 20: the validation loss is nan: training diverged (try a lower --lr or --clip); its weights are not saved: the run's checkpoints keep those it resumed from, and config.txt its options$" \
    $RNN train --resume "$T/div" --lr 3e38 --steps 20 --eval-every 5 --log-every 1
check "a diverged run leaves the saved model as it was" "cmp -s '$T/div/model.safetensors' '$T/div.before'"
check "... and a resume that saved nothing puts config.txt back (no lr = 3e38 for the next resume)" "cmp -s '$T/div/config.txt' '$T/div.cfg'"
# Its NaNs (x86 makes them with the sign bit set, which printf writes as -nan) read "nan" alike
# in the terminal, train.log and metrics.csv
check "a NaN loss is 'nan' on stderr, in train.log and in metrics.csv, never '-nan'" \
    "grep -q '^step 20 epoch 0: val loss nan (ppl nan) acc ' '$T/err' && grep -q 'gradient norm nan is not finite' '$T/err' &&
     grep -q '^step 20 epoch 0 loss nan lr ' '$T/div/train.log' && grep -q '^step 20 epoch 0: val loss nan (ppl nan)' '$T/div/train.log' &&
     grep -q '^20,[0-9.]*,1280,[0-9.]*,nan,' '$T/div/metrics.csv' && ! grep -q -- '-nan' '$T/err' '$T/div/train.log' '$T/div/metrics.csv'"
expect_error "a new run that diverges at its first validation says that it saved nothing" \
    "step 5: the validation loss is .*: training diverged (try a lower --lr or --clip); its weights are not saved: no checkpoint was saved$" \
    $RNN train $small --lr 3e38 --steps 5 --out "$T/div0"
# finite weights of ~1e30 after an absurd --lr: a loss past 700 nats a token is divergence
# too (the sampler's order of the same sums overflows to NaN), not a best model
expect_error "a finite but absurd validation loss is divergence" "step 20: the validation loss is [0-9.]*e+[0-9]*: training diverged" \
    $RNN train --resume "$T/div" --lr 1e30 --steps 20 --eval-every 5
check "the absurd loss saved nothing and was not marked best" \
    "cmp -s '$T/div/model.safetensors' '$T/div.before' && ! grep -q 'best' '$T/err'"
expect_error "--eps 0" "--eps must be > 0 (got 0)" $RNN train $small --eps 0 --steps 1 --out "$T/x"
expect_error "train --threads over 4096 is refused, as for the other commands" "--threads must be in \[0, 4096\] (0: all cores) (got 100000)" \
    $RNN train $small --threads 100000 --steps 1 --out "$T/x"
expect_error "--val-frac with --val" "--val-frac 0.2 does nothing in this run: it needs no --val" \
    $RNN train $small --val "$T/text.txt" --val-frac 0.2 --steps 1 --out "$T/x"
expect_error "--resume with an empty value" "option --resume needs a value" $RNN train --resume ""
expect_error "--resume of a missing directory says so" "--resume $T/nowhere: No such file or directory" $RNN train --resume "$T/nowhere"
expect_error "--resume of a file" "--resume $T/text.txt: not a directory" $RNN train --resume "$T/text.txt"
mkdir -p "$T/norun"
expect_error "--resume of a directory with no run" "--resume $T/norun: no run there (it has no config.txt" $RNN train --resume "$T/norun"
# a checkpoint holding a NaN (one float of head.bias overwritten) is refused by name
if command -v python3 >/dev/null; then
    python3 - "$T/run/model.safetensors" "$T/nan.safetensors" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
off = 8 + n + json.loads(b[8:8 + n])['head.bias']['data_offsets'][0]
b[off:off + 4] = struct.pack('<f', float('nan'))
open(sys.argv[2], 'wb').write(b)
PY
    expect_error "a checkpoint with a NaN weight" "nan.safetensors: tensor 'head.bias' holds nan at index 0" \
        $RNN sample "$T/nan.safetensors" --length 5
    # finite weights whose outputs overflow: a perplexity past double's range is JSON null, and a
    # loss that is no number is an error, not a result
    setw() { python3 - "$@" <<'PY'
import json, struct, sys
src, dst, name, value, count = sys.argv[1:6]
b = bytearray(open(src, 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
lo, hi = json.loads(b[8:8 + n])[name]['data_offsets']
k = (hi - lo) // 4 if count == 'all' else int(count)
b[8 + n + lo:8 + n + lo + 4 * k] = struct.pack('<%df' % k, *[float(value)] * k)
open(dst, 'wb').write(b)
PY
    }
    setw "$T/run/model.safetensors" "$T/bigbias.safetensors" head.bias 1e4 1
    setw "$T/run/model.safetensors" "$T/bighead.safetensors" head.weight 3e38 all
    out=$($RNN eval "$T/bigbias.safetensors" --data "$T/text.txt" --json 2>/dev/null)
    check "eval --json: a perplexity past double's range is null ($out)" \
        "printf '%s' '$out' | grep -q '\"perplexity\": null' && printf '%s' '$out' | python3 -c 'import json, sys; json.load(sys.stdin)'"
    out=$($RNN eval "$T/bigbias.safetensors" --data "$T/text.txt" 2>/dev/null)
    check "eval: a huge perplexity is written with an exponent ($out)" "printf '%s' '$out' | grep -q 'perplexity inf,'"
    expect_error "eval: a loss that is not a number is an error" "bighead.safetensors: the loss on .*text.txt is \(infinite\|not a number\): the model's outputs are not finite" \
        $RNN eval "$T/bighead.safetensors" --data "$T/text.txt" --json
    setw "$T/bighead.safetensors" "$T/bighead2.safetensors" head.bias 3.4e38 all
    expect_error "sample: logits that are not finite are an error, not a draw" "the model's logits are not finite (-*inf at token" \
        $RNN sample "$T/bighead2.safetensors" --length 20
    # a header whose config asks for far more weights than the file holds: refused before allocating
    # (and one past the largest matrix rnn.c builds: refused by the config's checks)
    for hidden in 20000 100000; do
        python3 - "$T/run/model.safetensors" "$T/huge$hidden.safetensors" $hidden <<'PY'
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
c = json.loads(h['__metadata__']['config']); c['hidden_dim'] = int(sys.argv[3])
h['__metadata__']['config'] = json.dumps(c)
hb = json.dumps(h).encode(); hb += b' ' * (-len(hb) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(hb)) + hb + b[8 + n:])
PY
    done
    expect_error "a damaged config's sizes" "huge20000.safetensors: tensor 'rnn.weight_ih_l0' has shape \[128, 16\] where the config (vocab [0-9]*, embed 16, hidden 20000) needs \[80000, 16\]: a damaged file" \
        $RNN info "$T/huge20000.safetensors"
    expect_error "a config past the largest matrix" "huge100000.safetensors: bad config: config: model too large: a recurrent layer's W_ih or W_hh .* would hold 40000000000 values" \
        $RNN info "$T/huge100000.safetensors"
    # files a PyTorch user makes by mistake: each named for what it is
    $DMG "$T/run/model.safetensors" "$T/dp.safetensors" prefix module.
    expect_error "a DataParallel state_dict ('module.' names)" "dp.safetensors: tensor 'embedding.weight' missing, but 'module.embedding.weight' is there: the names carry a prefix" \
        $RNN info "$T/dp.safetensors"
    $DMG "$T/run/model.safetensors" "$T/tr.safetensors" transpose rnn.weight_ih_l0
    expect_error "a transposed weight" "tr.safetensors: tensor 'rnn.weight_ih_l0' is stored transposed, \[16, 128\] where the config needs \[128, 16\]" \
        $RNN info "$T/tr.safetensors"
    $DMG "$T/run/model.safetensors" "$T/f64.safetensors" f64 head.bias 3 1e39
    expect_error "an F64 value beyond float32" "f64.safetensors: tensor 'head.bias' holds 1e+39 at index 3, beyond float32's range" \
        $RNN info "$T/f64.safetensors"
    $DMG "$T/run/model.safetensors" "$T/f64ok.safetensors" f64 head.bias 3 0.25
    check "an F64 tensor within range loads" "$RNN info '$T/f64ok.safetensors' >/dev/null"
    printf 'PK\003\004\024\000\000\000\010\000rest of a zip' >"$T/model.pt"
    expect_error "a PyTorch .pt file" "model.pt: not a safetensors file: .* (a zip archive: a PyTorch .pt/.pth file?" \
        $RNN info "$T/model.pt"
    expect_error "an endless device is refused at its header length" "/dev/zero: not a safetensors file: header length 0" \
        timeout 20 $RNN info /dev/zero
    out=$(cat "$T/run/model.safetensors" | $RNN info /dev/stdin)
    check "a checkpoint read from a pipe" "printf '%s' '$out' | grep -q 'lstm 1 layer x 32'"
    $RNN train $small --hidden 256 --steps 1 --out "$T/big" >/dev/null 2>&1
    out=$(cat "$T/big/model.safetensors" | $RNN info /dev/stdin)
    check "a checkpoint of over 1 MiB read from a pipe ($(wc -c <"$T/big/model.safetensors") bytes)" \
        "[ \$(wc -c <'$T/big/model.safetensors') -gt 1048576 ] && printf '%s' '$out' | grep -q 'lstm 1 layer x 256'"
    $DMG tests/fixtures/torch_cls.safetensors "$T/pool7.safetensors" cfg pool 7
    expect_error "a config whose pool is not a string" 'pool7.safetensors: bad config: config: "pool" must be a string' \
        $RNN info "$T/pool7.safetensors"
    $DMG tests/fixtures/torch_cls.safetensors "$T/noatt.safetensors" uncfg attention_dim
    expect_error "an attention classifier without attention_dim" "noatt.safetensors: bad config: config: an attention-pooling classifier needs \"attention_dim\"" \
        $RNN info "$T/noatt.safetensors"
fi

# --- Ctrl-C saves and the run can be resumed
$RNN train ${small/--threads 1/--threads 2} --steps 100000 --out "$T/int" >/dev/null 2>&1 &
pid=$!
sleep 2
# Ctrl-C and SIGTERM reach one thread of their own, blocked in the computing ones (a handler
# run inside oneDNN's JIT sgemm wrote its frame on the heap: oneDNN issue 4845)
if [ -d /proc/$pid/task ]; then
    nt=0; open=0
    for f in /proc/$pid/task/*/status; do
        nt=$((nt + 1)); m=$(sed -n 's/^SigBlk:[[:space:]]*//p' "$f")
        [ $(( 0x$m & 0x4002 )) -eq $(( 0x4002 )) ] || open=$((open + 1))
    done
    check "training's $nt threads block SIGINT and SIGTERM but for one, which waits for them ($open open)" "[ $nt -ge 3 ] && [ $open -le 1 ]"
fi
# one run at a time in a directory: a second (a resume started twice) is refused while the first runs
expect_error "a second run in a directory another run is using is refused" \
    "int: another rnn train is using this run directory now" $RNN train --resume "$T/int" --steps 100000
kill -INT $pid; wait $pid; rc=$?
check "Ctrl-C saves, then dies of SIGINT so that a calling script stops too (rc $rc)" "[ $rc -eq 130 ] && [ -s '$T/int/last.safetensors' ] && [ -s '$T/int/state.safetensors' ] && grep -q 'interrupted: saving' '$T/int/train.log'"
# a step that takes seconds (a 2x768 LSTM, batch 64 x 128, one thread): past a second after the
# signal the run says it stops when the step ends; it then saves as ever
rm -rf "$T/slowstep"
$RNN train --data "$T/text.txt" --layers 2 --hidden 768 --batch 64 --seq-len 128 --threads 1 --steps 50 \
    --progress log --out "$T/slowstep" >/dev/null 2>"$T/slowstep.err" &
pid=$!
for i in $(seq 1 100); do grep -q 'steps/epoch' "$T/slowstep/train.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
t0=$(date +%s%N); kill -TERM $pid; wait $pid; rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
said=$(grep -c '^rnn: SIGTERM: the run stops, and is saved, when its current step (or validation) ends (SIGTERM again stops it at once, unsaved)$' "$T/slowstep.err")
check "SIGTERM during a long step: past a second, the run says it stops when the step ends, then saves ($ms ms, said $said)" \
    "[ $rc -eq 143 ] && [ -s '$T/slowstep/state.safetensors' ] && { { [ $ms -ge 1500 ] && [ $said -eq 1 ]; } || { [ $ms -lt 900 ] && [ $said -eq 0 ]; }; }"
# a run killed before its first save of the resume state: said so, and what to do
rm -rf "$T/nostate"; cp -r "$T/int" "$T/nostate"; rm "$T/nostate/state.safetensors"
expect_error "a run with no resume state says the run stopped before it saved one" \
    "nostate/state.safetensors: no resume state: the run stopped before it saved one .*--overwrite" \
    $RNN train --resume "$T/nostate" --steps 100000
# a run killed while it saved left that file's temporary copy: the next run removes it
printf 'half' >"$T/int/state.safetensors.tmp.Ab3dE9"; printf 'x' >"$T/int/notes.tmp.Ab3dE9"
$RNN train --resume "$T/int" --steps 1 >"$T/intlog" 2>&1
check "the interrupted run resumes" "[ \$? -eq 0 ] && grep -q '^resuming at step [1-9]' '$T/intlog'"
check "... removing a temporary file left by a killed save, and no other file" \
    "[ ! -e '$T/int/state.safetensors.tmp.Ab3dE9' ] && [ -e '$T/int/notes.tmp.Ab3dE9' ] && grep -q '^note: removed 1 temporary file left by a run killed while it saved' '$T/int/train.log'"

# --- sampling
$RNN sample "$T/run/model.safetensors" --length 50 --seed 5 --prime "ROMEO:" >"$T/s1"
$RNN sample "$T/run/model.safetensors" --length 50 --seed 5 --prime "ROMEO:" >"$T/s2"
$RNN sample "$T/run/model.safetensors" --length 50 --seed 6 --prime "ROMEO:" >"$T/s3"
check "same seed, same text" "cmp -s '$T/s1' '$T/s2'"
check "other seed, other text" "! cmp -s '$T/s1' '$T/s3'"
check "sample starts with the prime" "head -c 6 '$T/s1' | grep -q 'ROMEO:'"
$RNN sample "$T/run/model.safetensors" --length 5 --prime "ROMEO: ☃☃" >/dev/null 2>"$T/err"
check "a prime with characters the model never saw is sampled, with a warning that counts them" \
    "[ \$? -eq 0 ] && grep -q 'warning: --prime: 2 of its 9 tokens are not in the model.s vocabulary and read as <unk>' '$T/err'"
{ printf '\xef\xbb\xbf'; cat "$T/text.txt"; } >"$T/bomtext.txt"
$RNN train $small --data "$T/bomtext.txt" --steps 1 --out "$T/bom" >/dev/null 2>&1
check "a byte order mark is not a character of the text" \
    "[ \"\$($RNN info '$T/bom/model.safetensors' --json | grep -o '\"vocab_size\": [0-9]*')\" = \"\$($RNN info '$T/run/model.safetensors' --json | grep -o '\"vocab_size\": [0-9]*')\" ]"
{ printf '\xef\xbb\xbfab\ncd\xffe\n'; cat "$T/text.txt"; } >"$T/bombad.txt"
expect_error "an invalid byte after a byte order mark is named where the file has it" \
    "bombad.txt: input has invalid UTF-8 at byte offset 8 (line 2)" $RNN train ${small/$T\/text.txt/$T\/bombad.txt} --steps 1 --out "$T/x"
expect_error "... with --val too (the text is then read a piece at a time)" \
    "bombad.txt: input has invalid UTF-8 at byte offset 8 (line 2)" $RNN train ${small/$T\/text.txt/$T\/bombad.txt} --val "$T/text.txt" --steps 1 --out "$T/x"
expect_error "... and by rnn eval" "bombad.txt: input has invalid UTF-8 at byte offset 8 (line 2)" \
    $RNN eval "$T/run/model.safetensors" --data "$T/bombad.txt"
{ head -c 1000 "$T/text.txt"; printf 'x <b\0> y\n'; cat "$T/text.txt" "$T/text.txt"; } >"$T/nultag.txt"
expect_error "--strip-html: a NUL byte inside a tag is refused, not the text cut at it" \
    "nultag.txt: input has a NUL byte at byte offset 1004 (line [0-9]*)" \
    $RNN train ${small/$T\/text.txt/$T\/nultag.txt} --tokenizer word --strip-html --steps 1 --out "$T/x"
{ printf 'a film <br /><br />loved it</p>\n'; cat "$T/text.txt"; } >"$T/htmltags.txt"
$RNN train ${small/$T\/text.txt/$T\/htmltags.txt} --tokenizer word --steps 1 --out "$T/html1" >"$T/html1.log" 2>&1
$RNN train ${small/$T\/text.txt/$T\/htmltags.txt} --tokenizer word --strip-html false --steps 1 --out "$T/html2" >"$T/html2.log" 2>&1
check "HTML tags in a word model's data without --strip-html get a note that counts them (none when told false)" \
    "grep -q 'note: .*htmltags.txt holds 3 HTML tags such as <br />, read as text; --strip-html removes them' '$T/html1.log' && ! grep -q 'HTML tags' '$T/html2.log'"
$RNN sample "$T/html1/model.safetensors" --length 60 --seed 5 >"$T/plain.txt" 2>&1
$RNN sample "$T/html1/model.safetensors" --length 60 --seed 5 --recase >"$T/recased.txt" 2>&1
printf 'zq xv wk jj qq zz\n%.0s' 1 2 3 4 5 6 7 8 9 10 >"$T/unkheavy.txt"
check "rnn eval: many tokens not in the vocabulary (5% and more) are counted with what that does to the perplexity" \
    "$RNN eval '$T/html1/model.safetensors' --data '$T/unkheavy.txt' | grep -q '^([0-9]* of [0-9]* tokens were not in the vocabulary, [0-9]*%: each is scored as <unk>, one token, so the perplexity does not compare with a model.s of another vocabulary)\$'"
check "sample --recase: the same text, letters aside, in sentence case (its first letter a capital)" \
    "[ -s '$T/plain.txt' ] && [ \"\$(tr 'A-Z' 'a-z' <'$T/recased.txt')\" = \"\$(cat '$T/plain.txt')\" ] && head -c 1 '$T/recased.txt' | grep -q '[A-Z]' && ! cmp -s '$T/plain.txt' '$T/recased.txt'"
expect_error "sample --recase refuses a tokenizer that keeps case" "--recase is for a model whose tokenizer lowercases" \
    $RNN sample tests/fixtures/torch_lm.safetensors --recase --length 3
: >"$T/emptyprime.txt"
$RNN sample "$T/run/model.safetensors" --length 5 --prime-file "$T/emptyprime.txt" >/dev/null 2>"$T/err"
check "an empty --prime-file is said" "[ \$? -eq 0 ] && grep -q 'emptyprime.txt is empty: sampling from a zero state' '$T/err'"
$RNN sample "$T/run/model.safetensors" --length 40 --top-k 3 --top-p 0.9 --temperature 0.7 >/dev/null
check "top-k/top-p sampling runs" "[ $? -eq 0 ]"
# --repeat-penalty: greedy text repeats less (more distinct words in 200), the same text for the
# same flags; --repeat-last 1 remembers only the last token; --min-p with the rest runs
g0=$($RNN sample "$T/run/model.safetensors" --length 200 --temperature 0 2>/dev/null)
g1=$($RNN sample "$T/run/model.safetensors" --length 200 --temperature 0 --repeat-penalty 3 2>/dev/null)
g1b=$($RNN sample "$T/run/model.safetensors" --length 200 --temperature 0 --repeat-penalty 3 2>/dev/null)
g2=$($RNN sample "$T/run/model.safetensors" --length 200 --temperature 0 --repeat-penalty 3 --repeat-last 1 2>/dev/null)
d0=$(printf '%s' "$g0" | tr -s ' \n' '\n\n' | sort -u | wc -l)
d1=$(printf '%s' "$g1" | tr -s ' \n' '\n\n' | sort -u | wc -l)
check "sample --repeat-penalty 3: more distinct words in greedy text ($d0 without, $d1 with), the same text again, --repeat-last 1 another" \
    "[ $d1 -gt $d0 ] && [ '$g1' = '$g1b' ] && [ '$g1' != '$g2' ]"
$RNN sample "$T/run/model.safetensors" --length 40 --top-k 30 --top-p 0.95 --min-p 0.1 --temperature 1.5 --repeat-penalty 1.2 --repeat-last 0 >/dev/null
check "min-p with top-k, top-p and a repeat penalty over all the text runs" "[ $? -eq 0 ]"
expect_error "sample --min-p 1.5" "--min-p '1.5' must be a number in \[0, 1\]" $RNN sample "$T/run/model.safetensors" --min-p 1.5
expect_error "sample --repeat-penalty 0" "--repeat-penalty '0' must be a number in \[0.01, 100\]" \
    $RNN sample "$T/run/model.safetensors" --repeat-penalty 0
expect_error "sample --repeat-penalty 1e-40 (a logit over it would be +inf)" "--repeat-penalty '1e-40' must be a number in \[0.01, 100\]" \
    $RNN sample "$T/run/model.safetensors" --repeat-penalty 1e-40
expect_error "sample --repeat-last -1" "--repeat-last '-1' must be a number in \[0, 65536\]" \
    $RNN sample "$T/run/model.safetensors" --repeat-last -1
expect_error "sample --repeat-last 2.5" "--repeat-last '2.5' must be a whole number in \[0, 65536\]" \
    $RNN sample "$T/run/model.safetensors" --repeat-last 2.5
expect_error "sample --repeat-last without --repeat-penalty (it would do nothing)" \
    "--repeat-last sets the window of --repeat-penalty: give --repeat-penalty X too" \
    $RNN sample "$T/run/model.safetensors" --repeat-last 5
# a byte model's text is valid UTF-8 by default; --raw-bytes draws any byte (a model
# trained for one step is near uniform over the 256, so its raw text is not UTF-8)
$RNN train $small --tokenizer byte --steps 1 --out "$T/bytes" >/dev/null 2>&1
$RNN sample "$T/bytes/model.safetensors" --length 2000 --temperature 1.5 >"$T/u8.txt" 2>/dev/null; rc=$?
nonul=$(tr -d '\000' <"$T/u8.txt" | wc -c)
check "a byte model's sample is valid UTF-8 without NUL ($nonul bytes)" \
    "[ $rc -eq 0 ] && [ $nonul -ge 2000 ] && [ $nonul -eq \$(wc -c <'$T/u8.txt') ] && iconv -f UTF-8 -t UTF-8 '$T/u8.txt' >/dev/null 2>&1"
$RNN sample "$T/bytes/model.safetensors" --length 2000 --temperature 1.5 --raw-bytes >"$T/raw.txt" 2>/dev/null
check "with --raw-bytes it is not (control)" "[ \$? -eq 0 ] && ! iconv -f UTF-8 -t UTF-8 '$T/raw.txt' >/dev/null 2>&1"
check "... and it is the bytes drawn, no newline added: --length 3 writes 3 bytes, --length 0 none" \
    "[ \$($RNN sample '$T/bytes/model.safetensors' --length 3 --raw-bytes 2>/dev/null | wc -c) -eq 3 ] && [ \$($RNN sample '$T/bytes/model.safetensors' --length 0 --raw-bytes 2>/dev/null | wc -c) -eq 0 ]"
expect_error "--raw-bytes with a char model" "--raw-bytes is for byte models" \
    $RNN sample "$T/run/model.safetensors" --raw-bytes
# the output: a failed write is an error (as with SIGPIPE ignored, when the reader is gone)
$RNN sample "$T/run/model.safetensors" --length 5 >/dev/full 2>"$T/err"; rc=$?
check "sample to a full disk is an error (rc $rc)" "[ $rc -eq 1 ] && grep -q 'sample: write error: No space left on device' '$T/err'"
expect_error "sample --seed 2^64" "--seed '18446744073709551616' must be a whole number" \
    $RNN sample "$T/run/model.safetensors" --seed 18446744073709551616
a=$($RNN sample "$T/run/model.safetensors" --length 30 --seed 9007199254740993)
b=$($RNN sample "$T/run/model.safetensors" --length 30 --seed 9007199254740992)
check "seeds above 2^53 are told apart" "[ -n \"\$a\" ] && [ \"\$a\" != \"\$b\" ]"
full=$($RNN sample "$T/run/model.safetensors" --length 300 --temperature 0 --prime "Th")
stop=${full:4:2}; want="${full%%"$stop"*}$stop"
got=$($RNN sample "$T/run/model.safetensors" --length 300 --temperature 0 --prime "Th" --stop "$stop")
check "--stop '$stop' ends the greedy text at its first match (${#got} of ${#full} bytes)" \
    "[ \${#full} -gt 6 ] && [ \"\$got\" = \"\$want\" ]"
expect_error "sample --length 5.5" "--length '5.5' must be a whole number" $RNN sample "$T/run/model.safetensors" --length 5.5
expect_error "sample --top-k in hex" "--top-k '0x3' must be a number" $RNN sample "$T/run/model.safetensors" --top-k 0x3
expect_error "train --lr in hex" "option --lr: '0x10' is not a number" $RNN train $small --lr 0x10 --steps 1 --out "$T/x"
expect_error "train --lr with a blank before it" "option --lr: ' 0.1' is not a number" $RNN train $small --lr " 0.1" --steps 1 --out "$T/x"
expect_error "train --lr 1e309: a number out of range, not 'not a number'" "option --lr: '1e309' is out of a float's range" $RNN train $small --lr 1e309 --steps 1 --out "$T/x"
expect_error "train --lr 1e-320: too small for a float" "option --lr: '1e-320' is out of a float's range" $RNN train $small --lr 1e-320 --steps 1 --out "$T/x"
expect_error "train --time 1e999: out of a double's range" "option --time: '1e999' is out of range" $RNN train $small --time 1e999 --steps 1 --out "$T/x"
expect_error "train --lr inf is no number" "option --lr: 'inf' is not a number" $RNN train $small --lr inf --steps 1 --out "$T/x"
expect_error "sample --top-k with a blank before it" "--top-k ' 5' must be a number" $RNN sample "$T/run/model.safetensors" --top-k " 5" --length 3
expect_error "train --clip -1" "--clip must be >= 0 (0: off) (got -1)" $RNN train $small --clip -1 --steps 1 --out "$T/x"
expect_error "train --time -1" "--time must be >= 0" $RNN train $small --time -1 --steps 1 --out "$T/x"
expect_error "train --gamma 0" "--gamma must be in (0, 1]" $RNN train $small --schedule step --gamma 0 --steps 1 --out "$T/x"
# sizes past what rnn.c builds, or than the machine holds: refused before any allocation
expect_error "train --hidden past 2^20" "hidden_dim (--hidden) must be in \[1, 1048576\] (got 1073741809)" \
    $RNN train $small --hidden 1073741809 --steps 1 --out "$T/x"
expect_error "train: a matrix past 2^31 values" "model too large: a recurrent layer's W_ih or W_hh .* would hold 6400000000 values" \
    $RNN train $small --hidden 40000 --steps 1 --out "$T/x"
expect_error "train: a model past the machine's memory" "the model needs [0-9.]* GB for its weights, their gradients and the adam optimizer's state, more than the" \
    $RNN train $small --layers 8 --hidden 23000 --steps 1 --out "$T/x"
# options that would do nothing in the run are refused, naming what they need
expect_error "train --momentum with adam" "--momentum 0.9 does nothing in this run: it needs --optimizer sgd or rmsprop" \
    $RNN train $small --momentum 0.9 --steps 1 --out "$T/x"
expect_error "train --dropout with one layer" "--dropout 0.5 does nothing in this run: it needs 2 or more recurrent --layers" \
    $RNN train $small --dropout 0.5 --steps 1 --out "$T/x"
expect_error "train --gamma without --schedule step" "--gamma 0.5 does nothing in this run: it needs --schedule step" \
    $RNN train $small --gamma 0.5 --steps 1 --out "$T/x"
expect_error "train --encoder-lr-mult -1" "--encoder-lr-mult must be >= 0 (got -1)" \
    $RNN train $small --encoder-lr-mult=-1 --steps 1 --out "$T/x"
expect_error "train --min-lr above --lr (cosine)" "--min-lr must be at most --lr (got 0.5)" \
    $RNN train $small --schedule cosine --min-lr 0.5 --steps 1 --out "$T/x"
expect_error "train --tokenizer byte --lowercase" "--lowercase has no effect with --tokenizer byte" \
    $RNN train $small --tokenizer byte --lowercase --steps 1 --out "$T/x"
expect_error "train --tokenizer char --split-punct" "--split-punct is for --tokenizer word (char reads characters)" \
    $RNN train $small --split-punct --steps 1 --out "$T/x"
# --epochs with --steps: whichever comes first; resuming a run at its end says so
$RNN train $small --epochs 1 --steps 100000 --out "$T/ep" >"$T/out" 2>&1
per=$(sed -n 's/.*, \([0-9]*\) steps\/epoch.*/\1/p' "$T/out")
check "--epochs 1 --steps 100000 stops after one epoch ($per steps)" "[ -n \"$per\" ] && grep -q \"^done: $per steps\" \"$T/out\""
$RNN train --resume "$T/ep" --steps 5 >"$T/out" 2>&1
check "resuming a run past its stopping point says there is nothing to train" \
    "grep -q 'note: the run is already at step $per, its stopping point (5 steps): nothing to train' \"$T/out\""
$RNN train --resume "$T/ep" --steps 0 --epochs 0 --time 0.001 >"$T/out" 2>&1
check "resuming a run whose --time (a total) is spent says so" \
    "grep -q 'note: the run has already trained [0-9.]* s, its --time 0.001 (a total, counting the time before the resume): nothing to train' \"$T/out\""
$RNN train --resume "$T/ep" --steps 5 --progress quiet >"$T/out" 2>&1; rc=$?
check "... with --progress quiet, in train.log alone (quiet: the run's files only)" \
    "[ $rc -eq 0 ] && [ ! -s '$T/out' ] && tail -n 2 '$T/ep/train.log' | grep -q '^note: the run is already at step $per, its stopping point (5 steps): nothing to train'"
# A resume with nothing to train is told from the state's header: its data are not read (here gone),
# its model not built, its state's tensors not read (peak RSS under 3/4 of the state's size, which
# reading them would take on top of the process's own: ~16 MB under AddressSanitizer); it says what it
# said after building all of that. A resume with a larger --steps then needs the data.
cp "$T/text.txt" "$T/gone.txt"
$RNN train ${small/--data $T\/text.txt/--data $T\/gone.txt} --tokenizer word --hidden 384 --embed 384 --steps 2 --out "$T/fin" >/dev/null 2>&1
rm "$T/gone.txt"; cp "$T/fin/metrics.csv" "$T/fin.csv"
if [ -x /usr/bin/time ]; then /usr/bin/time -f '%M' -o "$T/rss" $RNN train --resume "$T/fin" >"$T/out" 2>&1; rc=$?
else $RNN train --resume "$T/fin" >"$T/out" 2>&1; rc=$?; echo 0 >"$T/rss"; fi
state=$(wc -c <"$T/fin/state.safetensors"); rss=$(tail -n 1 "$T/rss")
check "a finished resume whose data are gone says there is nothing to train (peak RSS $rss kB, state $state bytes)" \
    "[ $rc -eq 0 ] && [ \$((rss * 1024 * 4)) -lt \$((state * 3)) ] && [ \$(wc -l <'$T/out') -eq 4 ] &&
     grep -q '^rnn.c: lm lstm 1x384, vocab [0-9]*, [0-9]* parameters; [0-9]* train / [0-9]* val tokens; batch 4 x 16, [0-9]* steps/epoch' '$T/out' &&
     grep -q '^resuming at step 2 (epoch 0, batch 2)$' '$T/out' &&
     grep -q '^note: the run is already at step 2, its stopping point (2 steps): nothing to train' '$T/out' &&
     grep -q '^done: 2 steps, [0-9.]* s, best val loss [0-9.]*; $T/fin/model.safetensors$' '$T/out' &&
     tail -n 4 '$T/fin/train.log' | cmp -s - '$T/out' && cmp -s '$T/fin/metrics.csv' '$T/fin.csv'"
check "... with its first line as the run printed it (the counts read from the state)" \
    "[ \"\$(grep '^rnn.c: ' '$T/fin/train.log' | sed 's/run dir .*//' | sort -u | wc -l)\" = 1 ]"
expect_error "... and one that trains on reads them" "gone.txt: cannot open: No such file or directory" \
    $RNN train --resume "$T/fin" --steps 3
# Early stopping: a resume of a run that stopped early has nothing to train, as one at its
# --steps; a larger --patience trains on.
$RNN train $small --lr 0.5 --eval-every 5 --patience 1 --steps 400 --out "$T/early" >"$T/out" 2>&1
stopped=$(sed -n 's/^done: \([0-9]*\) steps.*/\1/p' "$T/out"); rows=$(wc -l <"$T/early/metrics.csv")
$RNN train --resume "$T/early" >"$T/out" 2>&1; rc=$?
check "a resume of a run that stopped early (step $stopped) trains nothing and says why" \
    "[ $rc -eq 0 ] && [ -n '$stopped' ] && [ $stopped -lt 400 ] && grep -q 'early stopping: no improvement in 1 evaluations' '$T/early/train.log' &&
     grep -q '^note: the run stopped early at step $stopped, after 1 evaluation without improvement (--patience 1): nothing to train; give a larger --patience' '$T/out' &&
     grep -q '^done: $stopped steps' '$T/out' && [ \$(wc -l <'$T/early/metrics.csv') -eq $rows ]"
$RNN train --resume "$T/early" --patience 3 --steps $((stopped + 5)) >"$T/out" 2>&1
check "... and with a larger --patience it trains on" \
    "[ \$? -eq 0 ] && grep -q '^done: $((stopped + 5)) steps' '$T/out' && [ \$(wc -l <'$T/early/metrics.csv') -eq $((rows + 1)) ]"
# a bad byte in the part of --data held out for validation is placed in --data
# (23,001 bytes: --val-frac 0.1 holds out those after the first line break from byte 20,700)
{ head -c 22000 "$T/text.txt"; printf '\377'; tail -c 1000 "$T/text.txt"; } >"$T/bad_val.txt"
expect_error "bad UTF-8 in the validation split is placed in --data" "bad_val.txt: input has invalid UTF-8 at byte offset 22000 (line [0-9]*)" \
    $RNN train ${small/--data $T\/text.txt/--data $T\/bad_val.txt} --steps 1 --out "$T/x"
# ... read as the tokenizer reads it: a tag --strip-html drops is not read, as with --val
{ head -c 22000 "$T/text.txt"; printf '<b \377>'; tail -c 1000 "$T/text.txt"; } >"$T/tag_val.txt"
check "--strip-html: a bad byte inside a dropped tag in the held-out part is not refused" \
    "$RNN train ${small/--data $T\/text.txt/--data $T\/tag_val.txt} --strip-html --steps 1 --out '$T/tagrun' >/dev/null 2>&1"
expect_error "... which without --strip-html is refused, placed in --data" "tag_val.txt: input has invalid UTF-8 at byte offset 22003 (line [0-9]*)" \
    $RNN train ${small/--data $T\/text.txt/--data $T\/tag_val.txt} --steps 1 --out "$T/x"
printf 'steps = 1\nlr = 0.01\nsteps = 2\n' >"$T/dup.cfg"
expect_error "a config file setting an option twice" "dup.cfg:3: steps is set twice (first on line 1)" \
    $RNN train $small --config "$T/dup.cfg" --out "$T/x"
expect_error "a config file of endless NUL bytes" "/dev/zero:1: a NUL byte" timeout 20 $RNN train --config /dev/zero
printf 'steps = 1\rlr = 0.01\r' >"$T/cr.cfg"
expect_error "a config file whose lines end in a carriage return alone" "cr.cfg:1: a carriage return inside the line (do its lines end in a carriage return alone?" \
    $RNN train $small --config "$T/cr.cfg" --out "$T/x"
printf 'steps = 1\r\nlr = 0.01\r\n' >"$T/crlf.cfg"
check "... while CRLF line ends are read" "$RNN train $small --config '$T/crlf.cfg' --out '$T/crlfrun' >/dev/null 2>&1 && grep -qx 'lr = 0.01' '$T/crlfrun/config.txt'"
a=$($RNN sample "$T/run/model.safetensors" --length 3 --length=12 --seed 5)
check "a flag given twice: the last counts (a script's defaults, then its overrides)" "[ \${#a} -ge 12 ]"
a=$($RNN sample "$T/run/model.safetensors" --length=12 --seed=5); b=$($RNN sample "$T/run/model.safetensors" --length 12 --seed 5)
check "sample takes --name=value as --name value" "[ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ]"
expect_error "--version with an argument" "--version takes no arguments" $RNN --version extra
# OpenMP's barrier spin: short unless the user chose (a long one made training on a busy machine 30x slower)
out=$(env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY $RNN --version)
check "the command waits at OpenMP barriers with a short spin" "printf '%s' '$out' | grep -q 'OpenMP waits: GOMP_SPINCOUNT=1000)'"
out=$(env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active $RNN --version)
check "a wait policy the user sets is kept" "printf '%s' '$out' | grep -q 'OpenMP waits: OMP_WAIT_POLICY=active)'"
$RNN nonsense 2>"$T/err"; rc=$?
check "an unknown command: one line, status 2" "[ $rc -eq 2 ] && [ \$(wc -l <'$T/err') -eq 1 ] && grep -q \"unknown command 'nonsense'\" '$T/err'"
$RNN train $small --steps 2e1 --out "$T/e1" >"$T/out" 2>&1
check "train --steps 2e1 is 20 steps (counts read as the other commands read them)" "grep -q '^done: 20 steps' '$T/out'"
expect_error "train --steps 2.5" "option --steps: '2.5' is not a whole number from 0 to 9223372036854775807" $RNN train $small --steps 2.5 --out "$T/x"
expect_error "train --seed past 2^63 - 1 states the range" "option --seed: '9223372036854775808' is not a whole number from 0 to 9223372036854775807" \
    $RNN train $small --seed 9223372036854775808 --out "$T/x"
expect_error "train --loss bce on a language model" "--loss bce is for classifiers" $RNN train $small --loss bce --steps 1 --out "$T/x"
expect_error "eval --format on a language model" "eval: --format reads labelled data" \
    $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --format tsv
expect_error "train --config of a directory" "cannot read config file: Is a directory" $RNN train --config "$T" --steps 1
expect_error "sample --top-p 0" "--top-p '0' must be a number in (0, 1\]" $RNN sample "$T/run/model.safetensors" --top-p 0
expect_error "sample --top-p 1.5: the same range in the message" "--top-p '1.5' must be a number in (0, 1\]" \
    $RNN sample "$T/run/model.safetensors" --top-p 1.5
expect_error "sample --top-p 1e-50, 0 as the sampler's float, is refused, not read as off" "--top-p '1e-50' must be a number in (0, 1\]" \
    $RNN sample "$T/run/model.safetensors" --top-p 1e-50
expect_error "sample: invalid UTF-8 in --prime names the flag" "sample: --prime: input has invalid UTF-8" \
    $RNN sample "$T/run/model.safetensors" --prime "$(printf 'a\xff')"
$RNN sample "$T/run/model.safetensors" --length 50 --seed 5 --prime "ROMEO:" --precision bf16 --threads 2 >"$T/s4"
check "bf16 weights: same seed, same length of text" "[ $? -eq 0 ] && head -c 6 '$T/s4' | grep -q 'ROMEO:'"
$RNN sample "$T/run/model.safetensors" --length 50 --seed 5 --prime "ROMEO:" --threads 1 >"$T/s5"
check "1 thread gives the 2-thread text" "cmp -s '$T/s1' '$T/s5'"

# --- PyTorch -> rnn.c: a checkpoint made by tools/rnnc_torch.py make-fixture
FX=tests/fixtures/torch_lm.safetensors
meta() { /usr/bin/python3 - "$FX" "$1" <<'PY' 2>/dev/null || sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$FX" | head -1
import json, struct, sys
d = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", d[:8])[0]
sys.stdout.write(json.loads(d[8:8 + n])["__metadata__"][sys.argv[2]])
PY
}
meta test.text >"$T/fx.txt"
want_loss=$(meta test.loss); prime=$(meta test.prime); want_greedy=$(meta test.greedy)
got=$($RNN eval $FX --data "$T/fx.txt" --json)
got_loss=$(printf '%s' "$got" | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
check "eval of a PyTorch-written checkpoint matches PyTorch ($got_loss vs $want_loss)" \
    "awk -v a=$got_loss -v b=$want_loss 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-4 * b) }'"
got_greedy=$($RNN sample $FX --prime "$prime" --length 60 --temperature 0)
check "greedy text of a PyTorch-written checkpoint matches PyTorch byte for byte" "[ \"\$got_greedy\" = \"\$want_greedy\" ]"
got_bom=$($RNN sample $FX --prime $'\xef\xbb\xbf'"$prime" --length 60 --temperature 0)
check "a byte order mark before --prime is no text (as before --prime-file's)" "[ \"\$got_bom\" = \"\$want_greedy\" ]"
# The neural cache (src/cache.c) against the fixture's PyTorch computation of it.
read -r csize ctheta clambda <<<"$(meta test.cache)"
want_closs=$(meta test.cache_loss); want_cgreedy=$(meta test.cache_greedy)
cflags="--cache $csize --cache-theta $ctheta --cache-lambda $clambda"
got=$($RNN eval $FX --data "$T/fx.txt" --json $cflags)
got_closs=$(printf '%s' "$got" | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
check "eval with a neural cache matches PyTorch's mixture ($got_closs vs $want_closs)" \
    "awk -v a=$got_closs -v b=$want_closs 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-4 * b) }'"
got_plain=$(printf '%s' "$got" | sed -E 's/.*"loss_without_cache": ([0-9.e-]+).*/\1/')
check "eval with a cache also reports the model's own loss ($got_plain vs $want_loss)" \
    "awk -v a=$got_plain -v b=$want_loss 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-4 * b) }'"
got_cgreedy=$($RNN sample $FX --prime "$prime" --length 60 --temperature 0 $cflags)
check "greedy text with a cache matches PyTorch's" "[ \"\$got_cgreedy\" = \"\$want_cgreedy\" ]"
# Dynamic evaluation against the fixture's PyTorch runs of it (lr seg decay clip rms): SGD, RMS-scaled.
for key in dynamic dynamic_rms; do
    read -r dlr dseg ddecay dclip drms <<<"$(meta test.$key)"
    want_dloss=$(meta test.${key}_loss)
    got_dloss=$($RNN eval $FX --data "$T/fx.txt" --json --dynamic $dlr --dynamic-seg $dseg --dynamic-decay $ddecay \
        --dynamic-clip $dclip --dynamic-rms $drms | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
    check "eval --dynamic $dlr, rms $drms matches PyTorch's dynamic evaluation ($got_dloss vs $want_dloss; static $want_loss)" \
        "[ -n '$got_dloss' ] && awk -v a=$got_dloss -v b=$want_dloss -v s=$want_loss 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-4 * b && a < s - 0.01) }'"
done

# --- a language model's --data, --val and rnn eval --data may be a directory: its files in name
# order, then its subdirectories', hidden ones skipped, each file ending in a newline
mkdir -p "$T/tree/b_sub/deeper" "$T/tree/.git"
head -c 20000 "$T/text.txt" >"$T/tree/a.txt"; printf 'no newline at its end' >"$T/tree/c"
tail -c 20000 "$T/text.txt" >"$T/tree/b_sub/z.txt"; printf 'deep\n' >"$T/tree/b_sub/deeper/d.txt"
printf '\377 hidden' >"$T/tree/.git/x"; printf '\377' >"$T/tree/.hidden.txt"
for f in a.txt c b_sub/z.txt b_sub/deeper/d.txt; do LC_ALL=C sed -e '$a\' "$T/tree/$f"; done >"$T/tree.txt" # newline-ended
# read once: a link back up the tree, a second link to a directory read already; a run directory skipped
ln -s .. "$T/tree/b_sub/deeper/up"; ln -s b_sub "$T/tree/z_link"
mkdir -p "$T/tree/runs/r1"; echo 'data = x' >"$T/tree/runs/r1/config.txt"; echo 'a log' >"$T/tree/runs/r1/train.log"
tf="--layers 1 --hidden 32 --embed 16 --seq-len 16 --batch 4 --threads 1 --progress log --log-every 0 --steps 10 --eval-every 5"
$RNN train --data "$T/tree" --val "$T/tree" $tf --out "$T/tree_run" >/dev/null 2>&1
$RNN train --data "$T/tree.txt" --val "$T/tree.txt" $tf --out "$T/treef_run" >/dev/null 2>&1
check "an LM trained on a directory learns as on its files joined into one (losses of metrics.csv)" \
    "[ -s '$T/tree_run/metrics.csv' ] && cmp -s <(cut -d, -f4,5 '$T/tree_run/metrics.csv') <(cut -d, -f4,5 '$T/treef_run/metrics.csv')"
c=$($RNN eval "$T/tree_run/model.safetensors" --data "$T/tree" --json); f=$($RNN eval "$T/tree_run/model.safetensors" --data "$T/tree.txt" --json)
check "rnn eval --data DIR scores the directory's files as one text" "[ -n '$c' ] && [ '$c' = '$f' ]"
printf 'caf\351\n' >"$T/tree/b_sub/deeper/e.txt"
expect_error "a file of invalid UTF-8 in a --data directory is named" "tree/b_sub/deeper/e.txt: input has invalid UTF-8 at byte offset 3" \
    $RNN train --data "$T/tree" $tf --out "$T/x"
expect_error "and by rnn eval" "tree/b_sub/deeper/e.txt: input has invalid UTF-8 at byte offset 3" \
    $RNN eval "$T/tree_run/model.safetensors" --data "$T/tree"
# --strip-html: a byte inside a tag is not read, in a directory's file as in a file alone
mkdir -p "$T/htree"; printf 'x <b a="\377">y</b> and some more text to read here\n' >"$T/htree/a.txt"
cat "$T/text.txt" >"$T/htree/b.txt"
$RNN train --data "$T/htree" --tokenizer word --strip-html $tf --out "$T/htree_run" >"$T/out" 2>&1
hc=$($RNN eval "$T/htree_run/model.safetensors" --data "$T/htree" --json 2>&1)
check "--strip-html: a directory whose file has a bad byte inside a tag trains and evaluates" \
    "[ -s '$T/htree_run/model.safetensors' ] && printf '%s' '$hc' | grep -q '^{\"loss\": '"
$RNN train --data "$T/tree" --tokenizer byte $tf --out "$T/tree_byte" >/dev/null 2>&1
check "a byte LM reads the directory, that file too" "[ -s '$T/tree_byte/model.safetensors' ]"
rm "$T/tree/b_sub/deeper/e.txt"
ln -s gone.txt "$T/tree/b_sub/broken.txt"; mkfifo "$T/tree/b_sub/fifo.txt"
expect_error "a broken link in a --data directory is an error, not a file left out" "tree/b_sub/broken.txt: cannot read: No such file or directory" \
    $RNN eval "$T/tree_run/model.safetensors" --data "$T/tree"
rm "$T/tree/b_sub/broken.txt"
c2=$(timeout 20 $RNN eval "$T/tree_run/model.safetensors" --data "$T/tree" --json)
check "a FIFO in a --data directory is no text file: skipped, not waited on" "[ -n '$c2' ] && [ '$c2' = '$c' ]"
rm "$T/tree/b_sub/fifo.txt"
$RNN train --data "$T/tree" --val "$T/tree" $tf --steps 2 --eval-every 2 --out "$T/tree/runs/r2" >/dev/null 2>&1
$RNN train --data "$T/tree" --val "$T/tree" $tf --steps 4 --eval-every 2 --out "$T/tree/runs/r2" --resume "$T/tree/runs/r2" >"$T/tree_r2.log" 2>&1
check "a run inside its --data directory resumes (its own files are not data)" "[ \$(tail -n 1 '$T/tree/runs/r2/metrics.csv' | cut -d, -f1) = 4 ]"
mkdir -p "$T/empty_dir/.hidden"
expect_error "a --data directory with no files" "empty_dir: a directory with no files to read" \
    $RNN train --data "$T/empty_dir" $tf --out "$T/x"

# --- fine-tuning a language model with a neural cache keeps the model's settings unless given;
# --cache 0 turns it off; config.txt says what the run validates with
$RNN train $small --steps 2 --cache 40 --cache-theta 0.5 --cache-lambda 0.1 --out "$T/ftc" >/dev/null 2>&1
cachecfg() { grep '^cache' "$1/config.txt" | tr '\n' ' '; }
$RNN train $small --steps 1 --init-from "$T/ftc/model.safetensors" --out "$T/ftc1" >/dev/null 2>&1
check "fine-tuning keeps the model's cache, and config.txt says so ($(cachecfg "$T/ftc1"))" \
    "[ \"\$(cachecfg '$T/ftc1')\" = 'cache = 40 cache-theta = 0.5 cache-lambda = 0.1 ' ] && $RNN info '$T/ftc1/model.safetensors' --json | grep -q '\"cache_size\": *40'"
$RNN train $small --steps 1 --init-from "$T/ftc/model.safetensors" --cache 10 --out "$T/ftc2" >/dev/null 2>&1
check "--cache 10 when fine-tuning keeps the model's theta and lambda ($(cachecfg "$T/ftc2"))" \
    "[ \"\$(cachecfg '$T/ftc2')\" = 'cache = 10 cache-theta = 0.5 cache-lambda = 0.1 ' ]"
$RNN train $small --steps 1 --init-from "$T/ftc/model.safetensors" --cache 0 --out "$T/ftc3" >"$T/ftc3.log" 2>&1
check "--cache 0 when fine-tuning turns the cache off, and says so" \
    "grep -q '^cache = 0$' '$T/ftc3/config.txt' && ! $RNN info '$T/ftc3/model.safetensors' --json | grep -q '\"cache_size\": *[1-9]' && grep -q 'cache of .*ftc/model.safetensors is off' '$T/ftc3.log' && ! grep -q 'without the cache' '$T/ftc3.log'"

# --- a flag takes a true/false word after it too; a word tokenizer says what it does by default
$RNN train $small --tokenizer word --steps 1 --out "$T/wdef" >/dev/null 2>&1
$RNN train $small --tokenizer word --steps 1 --out "$T/woff" --split-punct no --lowercase false >/dev/null 2>&1 # the word last
check "word tokenizer: lowercase and split punctuation by default, --lowercase false --split-punct no turn them off" \
    "$RNN info '$T/wdef/model.safetensors' | grep -q 'word, .*(lowercase, split punctuation, line breaks as tokens)' && $RNN info '$T/woff/model.safetensors' | grep -q 'tokenizer *word, [0-9]* tokens (line breaks as tokens)$'"
expect_error "a flag followed by a word that is no truth value" "unexpected argument 'maybe'" \
    $RNN train $small --bidirectional maybe --steps 1 --out "$T/x"
expect_error "a flag takes one word" "unexpected argument 'false'" $RNN train $small --steps 1 --out "$T/x" --residual true false
expect_error "'auto' only for a flag that has it" "option --bidirectional: 'auto' is not true/false" \
    $RNN train $small --steps 1 --out "$T/x" --bidirectional auto

# --- rnn eval --streams N reads the text as training's validation does with --batch N
tail -c 6000 "$T/text.txt" >"$T/lmval.txt"
$RNN train $small --val "$T/lmval.txt" --batch 5 --steps 12 --eval-every 12 --out "$T/lmv" >/dev/null 2>&1
v=$(tail -n 1 "$T/lmv/metrics.csv" | cut -d, -f5)
c=$($RNN eval "$T/lmv/last.safetensors" --data "$T/lmval.txt" --streams 5 --json | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
c1=$($RNN eval "$T/lmv/last.safetensors" --data "$T/lmval.txt" --json | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
check "rnn eval --streams 5 gives the validation loss of a run with --batch 5 ($c vs $v; one stream: $c1)" \
    "close '$c' '$v' 1e-4 && ! close '$c1' '$v' 1e-4"
out=$($RNN eval "$T/lmv/last.safetensors" --data "$T/lmval.txt" --streams 5)
check "rnn eval --streams says how many tokens it predicted in how many streams" \
    "printf '%s' '$out' | grep -q ': 5995 tokens predicted in 5 streams, loss'"
expect_error "eval --streams 0" "--streams '0'" $RNN eval "$T/lmv/last.safetensors" --data "$T/lmval.txt" --streams 0
expect_error "eval --streams with more streams than the text has tokens for" "6000 tokens make no 3001 streams of at least 2 tokens" \
    $RNN eval "$T/lmv/last.safetensors" --data "$T/lmval.txt" --streams 3001
expect_error "eval --streams with --dynamic" "--dynamic reads the file as one stream" \
    $RNN eval "$T/lmv/last.safetensors" --data "$T/lmval.txt" --streams 2 --dynamic 0.1
a=$($RNN eval "$T/lmv/last.safetensors" --data "$T/lmval.txt" --dynamic 0.1 --json 2>&1)
b=$($RNN eval "$T/lmv/last.safetensors" --data "$T/lmval.txt" --dynamic 0.1 --json --streams 1 2>&1)
check "eval --dynamic with --streams 1, the default, given: the same result" "[ -n '$a' ] && [ '$a' = '$b' ]"

# --- rnn.c -> PyTorch (when torch is installed)
if py_torch; then
    head -c 3000 "$T/text.txt" >"$T/evaltext.txt"
    # same_as_torch CKPT WHAT: PyTorch's twin of CKPT gives rnn.c's eval loss
    # and greedy text; rnn.c's loss is left in $c_loss.
    same_as_torch() {
        c_loss=$($RNN eval "$1" --data "$T/evaltext.txt" --json | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
        p_loss=$(/usr/bin/python3 tools/rnnc_torch.py eval "$1" "$T/evaltext.txt" | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
        check "$2: PyTorch loads it and gives the same eval loss ($c_loss vs $p_loss)" \
            "[ -n '$c_loss' ] && awk -v a=$c_loss -v b=$p_loss 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-4 * b) }'"
        c_g=$($RNN sample "$1" --prime "KING" --length 80 --temperature 0)
        p_g=$(/usr/bin/python3 tools/rnnc_torch.py greedy "$1" --prime "KING" --length 80)
        check "$2: PyTorch's greedy text matches" "[ \"\$c_g\" = \"\$p_g\" ]"
    }
    # --tie-weights: PyTorch's twin ties head.weight to embedding.weight and loads the file strictly.
    $RNN train $small --embed 32 --tie-weights --steps 30 --out "$T/tied" >/dev/null 2>&1
    same_as_torch "$T/tied/model.safetensors" "a tied LM (the sampling stepper reads the embedding as its head)"
    /usr/bin/python3 - "$T/tied/model.safetensors" "$T/tied_nocopy.safetensors" <<'PY'
import sys
sys.path.insert(0, "tests/ref"); import st
t, m = st.load(sys.argv[1]); del t["head.weight"]; st.save(sys.argv[2], t, m)
PY
    same_as_torch "$T/tied_nocopy.safetensors" "a tied LM file without the optional head.weight copy"
    same_as_torch "$T/run/model.safetensors" "an rnn.c LM"
    # rnn sample --dynamic: adapted to the prime, then greedy; PyTorch's twin does the same.
    dprime=$(head -c 600 "$T/evaltext.txt")
    c_g=$($RNN sample "$T/run/model.safetensors" --prime "$dprime" --length 80 --temperature 0 --dynamic 0.5 --dynamic-seg 10 2>/dev/null)
    p_g=$(/usr/bin/python3 tools/rnnc_torch.py greedy "$T/run/model.safetensors" --prime "$dprime" --length 80 --dynamic 0.5 --dynamic-seg 10)
    s_g=$($RNN sample "$T/run/model.safetensors" --prime "$dprime" --length 80 --temperature 0)
    check "sample --dynamic: greedy text after adapting to the prime matches PyTorch's, and differs from the static model's" \
        "[ -n \"\$c_g\" ] && [ \"\$c_g\" = \"\$p_g\" ] && [ \"\$c_g\" != \"\$s_g\" ]"
    # Dynamic evaluation (rnn eval --dynamic) against the twin's: weights updated
    # by SGD after every segment, so any difference in a gradient compounds.
    # Also: weight drop and recurrent dropout (backward after an eval-mode forward), a model
    # past the update loop's threading threshold (100,000 weights), a neural cache, a backward LM.
    $RNN train $small --cell gru --layers 2 --steps 20 --out "$T/gru2" >/dev/null 2>&1
    $RNN train $small --hidden 160 --steps 3 --out "$T/big" >/dev/null 2>&1
    $RNN train $small --reverse --steps 10 --out "$T/rev" >/dev/null 2>&1 # reads the text right to left
    for dcase in "$T/run/model.safetensors|0.5" "$T/tied/model.safetensors|1 --dynamic-seg 7 --dynamic-clip 0" \
        "$T/gru2/model.safetensors|0.3 --dynamic-seg 33 --dynamic-decay 0.02 --dynamic-clip 0.5" \
        "$T/gru2/model.safetensors|0.003 --dynamic-rms 0.99 --dynamic-decay 0.01" \
        "$T/emafull/model.safetensors|0.3 --dynamic-seg 13" "$T/rdfull/model.safetensors|0.002 --dynamic-rms 0.9" \
        "$T/big/model.safetensors|0.2 --dynamic-decay 0.01" "$T/big/model.safetensors|0.001 --dynamic-rms 0.99" \
        "$T/run/model.safetensors|0.5 --cache 30 --cache-theta 0.5 --cache-lambda 0.2" "$T/rev/model.safetensors|0.3"; do
        ck=${dcase%%|*} dflags=${dcase#*|}
        dc_loss=$($RNN eval "$ck" --data "$T/evaltext.txt" --json --dynamic $dflags | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
        dp_loss=$(/usr/bin/python3 tools/rnnc_torch.py eval "$ck" "$T/evaltext.txt" --dynamic $dflags | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
        ds_loss=$($RNN eval "$ck" --data "$T/evaltext.txt" --json | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
        check "eval --dynamic $dflags of $(basename "$(dirname "$ck")") matches PyTorch's ($dc_loss vs $dp_loss; static $ds_loss)" \
            "[ -n '$dc_loss' ] && awk -v a=$dc_loss -v b=$dp_loss -v s=$ds_loss 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-4 * b && a < s - 0.01) }'"
    done
    # tools/rnnc_torch.py export: a PyTorch state_dict + config + tokenizer -> an rnn.c checkpoint
    /usr/bin/python3 - "$T/run/model.safetensors" "$T" <<'PY'
import json, sys, torch
sys.path.insert(0, "tools")
import rnnc_torch
net, c, tok, meta = rnnc_torch.load(sys.argv[1])
torch.save(net.state_dict(), sys.argv[2] + "/sd.pt")
json.dump(c, open(sys.argv[2] + "/config.json", "w"))
json.dump(tok, open(sys.argv[2] + "/tok.json", "w"))
PY
    /usr/bin/python3 tools/rnnc_torch.py export "$T/sd.pt" "$T/config.json" "$T/tok.json" "$T/exported.safetensors"
    e_loss=$($RNN eval "$T/exported.safetensors" --data "$T/evaltext.txt" --json | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
    check "tools/rnnc_torch.py export gives a checkpoint rnn.c reads ($e_loss vs $c_loss)" "[ -n '$e_loss' ] && [ '$e_loss' = '$c_loss' ]"
    # A model trained with --cache keeps it in its config: eval, sample and PyTorch's twin apply it.
    $RNN train $small --steps 30 --cache 64 --cache-theta 0.5 --cache-lambda 0.1 --out "$T/cached" >/dev/null 2>&1
    check "--cache is saved in the checkpoint's config" \
        "$RNN info '$T/cached/model.safetensors' --json | grep -q '\"cache_size\": *64'"
    same_as_torch "$T/cached/model.safetensors" "an LM with a neural cache"
    c_plain=$($RNN eval "$T/cached/model.safetensors" --data "$T/evaltext.txt" --json --cache 0 | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
    check "--cache 0 turns it off (loss $c_plain, with the cache $c_loss)" "[ '$c_plain' != '$c_loss' ]"
    # rnn sample uses no cache unless given --cache N, and so neither does --dynamic's reading of the prime
    d1=$($RNN sample "$T/cached/model.safetensors" --dynamic 0.1 --prime-file "$T/evaltext.txt" --length 1 2>&1 >/dev/null | grep -o '[0-9.]* nats per token')
    d0=$($RNN sample "$T/cached/model.safetensors" --dynamic 0.1 --prime-file "$T/evaltext.txt" --length 1 --cache 0 2>&1 >/dev/null | grep -o '[0-9.]* nats per token')
    check "sample --dynamic reads its prime without the model's cache, as it samples ($d1; --cache 0: $d0)" "[ -n '$d1' ] && [ '$d1' = '$d0' ]"
    # rnn eval --streams N: the text as N streams side by side, each from a zero state (and with a
    # cache of its own), against PyTorch's twin run on the text reshaped to (N, len/N).
    for ck in run/model.safetensors cached/model.safetensors; do
        for ns in 3 7; do
            c_s=$($RNN eval "$T/$ck" --data "$T/evaltext.txt" --json --streams $ns)
            p_s=$(/usr/bin/python3 tools/rnnc_torch.py eval "$T/$ck" "$T/evaltext.txt" --streams $ns)
            cl=$(printf '%s' "$c_s" | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/'); pl=$(printf '%s' "$p_s" | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
            ct=$(printf '%s' "$c_s" | grep -o '"tokens": [0-9]*'); pt=$(printf '%s' "$p_s" | grep -o '"tokens": [0-9]*')
            check "eval --streams $ns of ${ck%%/*} matches PyTorch's ($cl vs $pl, $ct vs $pt)" \
                "[ -n '$ct' ] && [ '$ct' = '$pt' ] && close '$cl' '$pl' '$(awk -v b="$pl" 'BEGIN { print 1e-4 * b }')'"
        done
    done
else
    echo "skip: python3-torch not installed (rnn.c -> PyTorch checks)"
fi

# --- the examples/ programs (built by make test) on the fixture checkpoints
if [ -n "${RNN_EXAMPLES:-}" ] && [ -x "$RNN_EXAMPLES/classify" ]; then
    out=$("$RNN_EXAMPLES/classify" tests/fixtures/torch_cls.safetensors "a fine film")
    check "examples/classify prints label, probability and text" "printf '%s' '$out' | grep -q \"^pos	0.5588	a fine film$\""
    # a text that fails is named and the others still classified, and the exit status says so;
    # a language model is refused once (it exited 0 after one message per text)
    out=$("$RNN_EXAMPLES/classify" tests/fixtures/torch_cls.safetensors "a fine film" $'caf\xc3' 2>"$T/ex_err"); rc=$?
    check "examples/classify exits 1 when a text fails, the others printed (rc $rc)" \
        "[ $rc -eq 1 ] && printf '%s' '$out' | grep -q \"^pos	0.5588	a fine film$\" && grep -q 'rnn_classify: the text: input has invalid UTF-8 at byte offset 3' '$T/ex_err'"
    "$RNN_EXAMPLES/classify" "$FX" "a" "b" >"$T/ex_out" 2>"$T/ex_err"; rc=$?
    check "examples/classify refuses a language model once, exit 1 (rc $rc)" \
        "[ $rc -eq 1 ] && [ ! -s '$T/ex_out' ] && [ \"\$(cat '$T/ex_err')\" = 'rnn_num_classes: this model is a language model, with no classes' ]"
    out=$("$RNN_EXAMPLES/generate" "$FX" "O Rom")
    check "examples/generate prints the prime and a continuation" "[ \${#out} -gt 100 ] && [ \"\${out#O Rom}\" != \"\$out\" ]"
    # examples/score: each line's perplexity, rnn eval's on the line alone (English is likelier to
    # the small shakespeare model than rare capitals)
    printf 'the king is not here, and she is there' >"$T/line1.txt"; printf 'QXZJ VKQZ XJQZ ZQXV JKZQ XVJK QZXJ VKQ' >"$T/line2.txt"
    out=$( { cat "$T/line1.txt"; echo; cat "$T/line2.txt"; echo; } | "$RNN_EXAMPLES/score" "$T/run/model.safetensors")
    ppl() { $RNN eval "$T/run/model.safetensors" --data "$1" --json | sed -E 's/^\{"loss": ([-0-9.e+]+).*/\1/' | awk '{ printf "%.3f", exp($1) }'; }
    p1=$(ppl "$T/line1.txt"); p2=$(ppl "$T/line2.txt")
    s1=$(printf '%s\n' "$out" | sed -n 1p | cut -f1 | tr -d ' '); s2=$(printf '%s\n' "$out" | sed -n 2p | cut -f1 | tr -d ' ')
    check "examples/score prints each line's perplexity as rnn eval gives it ($s1 vs $p1, $s2 vs $p2)" \
        "[ -n '$p1' ] && [ '$s1' = '$p1' ] && [ '$s2' = '$p2' ] && awk 'BEGIN { exit !($s1 < $s2) }'"
    out=$(printf 'x\n' | "$RNN_EXAMPLES/score" "$FX" 2>&1); rc=$?
    check "examples/score names a line too short to score (rc $rc)" \
        "[ $rc -eq 1 ] && [ '$out' = 'line 1: rnn_score: the text has 1 token; at least 2 are needed (the first is not predicted)' ]"
fi

# --- make install into a scratch DESTDIR; a program builds against what it installed
if [ -n "${RNN_MAKE:-}" ]; then
    I=$T/inst/opt/rnn
    V=$(sed -n 's/^#define RNN_VERSION "\(.*\)"/\1/p' include/rnn.h)
    $RNN_MAKE -s install DESTDIR="$T/inst" PREFIX=/opt/rnn >"$T/instlog" 2>&1
    check "make install: bin/rnn, lib/librnn.a, librnn.so and its links, include/rnn.h, lib/pkgconfig/rnn.pc" \
        "[ -x '$I/bin/rnn' ] && [ -s '$I/lib/librnn.a' ] && [ -x '$I/lib/librnn.so.$V' ] && [ \"\$(readlink '$I/lib/librnn.so')\" = librnn.so.0 ] && [ \"\$(readlink '$I/lib/librnn.so.0')\" = librnn.so.$V ] && cmp -s include/rnn.h '$I/include/rnn.h' && grep -q '^Libs: -L\${libdir} -lrnn$' '$I/lib/pkgconfig/rnn.pc' && grep -q '^Libs.private: .*-lcjson' '$I/lib/pkgconfig/rnn.pc'"
    pc() { sed -n "s/^$1: //p" "$I/lib/pkgconfig/rnn.pc" | sed "s#\${libdir}#$I/lib#"; }
    # a static link: librnn.a and the libraries it needs (pkg-config --static's Libs.private)
    cc -I"$I/include" examples/classify.c -o "$T/classify_installed" "$I/lib/librnn.a" $(pc Libs.private) 2>"$T/cclog"
    out=$("$T/classify_installed" tests/fixtures/torch_cls.safetensors "a fine film" 2>&1)
    check "a program linked statically with rnn.pc's Libs.private runs" "printf '%s' '$out' | grep -q \"^pos	0.5588	a fine film$\" && ! readelf -d '$T/classify_installed' | grep -q librnn"
    # rnn.h's functions are the library's only global symbols: a host's own rnn_train
    # or rnn_log_add (names of the library's internals) links, statically and against
    # librnn.so, and the library's own calls still reach its own functions
    printf '%s\n' '#include <stdio.h>' '#include <rnn.h>' 'int rnn_train(void) { return 7; }' \
        'double rnn_log_add(double a) { return a; }' \
        'int main(int c, char **v) { rnn_t *m = rnn_open(v[1]); float p[3]; int k = rnn_classify(m, "a fine film", p, 3);' \
        '  printf("%d %d %.4f\n", rnn_train(), k, rnn_log_add(p[2])); rnn_close(m); return c < 2; }' >"$T/host.c"
    cc -I"$I/include" "$T/host.c" -o "$T/host" "$I/lib/librnn.a" $(pc Libs.private) 2>"$T/cclog"
    out=$("$T/host" tests/fixtures/torch_cls.safetensors 2>&1)
    check "a host's own functions named as the library's internals link and run (nm: $(nm -g --defined-only "$I/lib/librnn.a" | grep -c ' T ') public)" \
        "[ '$out' = '7 2 0.5588' ] && [ \$(nm -g --defined-only '$I/lib/librnn.a' | grep ' T ' | grep -vc ' T rnn_') -eq 0 ]"
    # (a sanitizer build's library needs its runtime linked into the program too)
    san=$(pc Libs.private | grep -o -- '-fsanitize=[^ ]*' | head -1)
    cc -I"$I/include" "$T/host.c" -o "$T/host_so" $(pc Libs) $san -Wl,-rpath,"$I/lib" 2>>"$T/cclog"
    out=$("$T/host_so" tests/fixtures/torch_cls.safetensors 2>&1)
    check "the same host linked with rnn.pc's Libs runs against librnn.so (soname librnn.so.0; exports: librnn.a's $(nm -g --defined-only "$I/lib/librnn.a" | grep -c ' T ') functions, no other)" \
        "[ '$out' = '7 2 0.5588' ] && readelf -d '$T/host_so' | grep -q 'NEEDED.*\[librnn.so.0\]' && readelf -d '$I/lib/librnn.so' | grep -q 'SONAME.*\[librnn.so.0\]' && [ \"\$(nm -D --defined-only '$I/lib/librnn.so' | awk '{print \$3}' | sort)\" = \"\$(nm -g --defined-only '$I/lib/librnn.a' | awk '\$2 == \"T\" {print \$3}' | sort)\" ]"
    $RNN_MAKE -s uninstall DESTDIR="$T/inst" PREFIX=/opt/rnn >>"$T/instlog" 2>&1
    check "make uninstall removes what it installed" "[ -z \"\$(find '$T/inst' ! -type d)\" ]"
fi

# --- bad input: one clear line, non-zero exit, never a crash
expect_error "missing data file" "nope.txt" $RNN train --data "$T/nope.txt" --out "$T/x1"
expect_error "unknown flag" "--frobnicate" $RNN train --frobnicate 3
expect_error "bad number" "--hidden" $RNN train --hidden abc
expect_error "--tie-weights with --embed unequal to --hidden" "tie-weights.*got 64 and 256" $RNN train --tie-weights --embed 64 --hidden 256 --steps 1 --out "$T/x6"
$RNN train --data "$T/text.txt" --layers 2 --hidden 16 --embed 16 --residual --tie-weights --seq-len 16 --batch 4 --steps 2 --threads 1 --progress quiet --out "$T/tied2"
expect_error "--residual false when fine-tuning a residual model" "--residual=false: the model of --init-from .* has residual on" \
    $RNN train --data "$T/text.txt" --init-from "$T/tied2/model.safetensors" --residual false --steps 1 --out "$T/x7"
expect_error "--tie-weights false when fine-tuning a tied model" "--tie-weights=false: the model of --init-from .* has tie-weights on" \
    $RNN train --data "$T/text.txt" --init-from "$T/tied2/model.safetensors" --tie-weights false --steps 1 --out "$T/x7"
expect_error "--tie-weights when fine-tuning an untied model" "tie-weights: the model of --init-from .*model.safetensors has none" $RNN train --data "$T/text.txt" --init-from "$T/run/model.safetensors" --tie-weights --steps 1 --out "$T/x7"
expect_error "bad choice" "--cell" $RNN train --cell transformer
printf 'abc\xff\xfedef\n' >"$T/bad.txt"
expect_error "invalid UTF-8 names file and byte" "bad.txt.*byte offset 3" $RNN train --data "$T/bad.txt" --out "$T/x2"
: >"$T/empty.txt"
expect_error "empty data" "empty.txt" $RNN train --data "$T/empty.txt" --out "$T/x3"
head -c 1000 "$T/run/model.safetensors" >"$T/trunc.safetensors"
expect_error "truncated checkpoint" "trunc.safetensors" $RNN sample "$T/trunc.safetensors"
h='{"__metadata__":{"format":"x\ny\u001b"}}'; while [ $((${#h} % 8)) -ne 0 ]; do h="$h "; done
{ printf "\\x$(printf %02x ${#h})\0\0\0\0\0\0\0"; printf '%s' "$h"; } >"$T/nl.safetensors"
$RNN info "$T/nl.safetensors" >/dev/null 2>"$T/err"
check "a checkpoint's format holding a newline and ESC gives a one-line error, escaped" \
    "[ \$? -ne 0 ] && [ \$(wc -l <'$T/err') -eq 1 ] && grep -qF 'is \"x\\ny\\x1b\"' '$T/err'"
expect_error "missing checkpoint" "none.safetensors" $RNN sample "$T/none.safetensors"
expect_error "text file as checkpoint" "text.txt" $RNN eval "$T/text.txt" --data "$T/text.txt"
expect_error "bad sample flag" "temperature" $RNN sample "$T/run/model.safetensors" --temperature -1
expect_error "bad precision" "precision.*fp16" $RNN sample "$T/run/model.safetensors" --precision fp16
expect_error "cache lambda 1 refused" "cache-lambda" $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --cache 10 --cache-lambda 1
expect_error "--dynamic-seg without --dynamic refused" "dynamic-seg needs --dynamic" $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --dynamic-seg 5
expect_error "--dynamic-seg 0 refused" "dynamic-seg" $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --dynamic 0.1 --dynamic-seg 0
expect_error "--dynamic-seg 2.5 refused" "whole number" $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --dynamic 0.1 --dynamic-seg 2.5
expect_error "--dynamic -1 refused" "dynamic" $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --dynamic -1
expect_error "--dynamic-decay 1 refused" "dynamic-decay" $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --dynamic 0.1 --dynamic-decay 1
expect_error "--dynamic-rms 1 refused" "dynamic-rms" $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --dynamic 0.1 --dynamic-rms 1
# rnn eval's progress line: on a terminal (script(1) gives one), never in a pipe.
if command -v script >/dev/null 2>&1; then
    cat "$T/text.txt" "$T/text.txt" >"$T/text2.txt" # 120 kB, one token per segment: seconds
    script -qec "$RNN eval '$T/run/model.safetensors' --data '$T/text2.txt' --dynamic 0.1 --dynamic-seg 1" /dev/null \
        | tr '\r' '\n' >"$T/tty.txt"
    $RNN eval "$T/run/model.safetensors" --data "$T/text2.txt" --dynamic 0.1 --dynamic-seg 1 >"$T/pipe.txt" 2>"$T/pipe.err"
    check "eval shows progress on a terminal only, and the same result" \
        "grep -q 'rnn eval: [0-9]*% ([0-9]* of [0-9]* tokens' '$T/tty.txt' && [ ! -s '$T/pipe.err' ] && grep -qF \"\$(head -n 1 '$T/pipe.txt')\" '$T/tty.txt'"
    # train's progress bar on a terminal of 75 and 40 columns: each redraw narrower than it (a
    # line that wraps leaves a line behind at every redraw); the bar narrows, then goes
    for cols in 75 40; do
        script -qec "stty cols $cols; $RNN train $small --hidden 64 --steps 60 --eval-every 1000 --progress bar --out '$T/bar$cols'" /dev/null \
            | tr '\r' '\n' | grep -a '^.\[Kstep ' | grep -av ' epoch ' | sed 's/^.\[K//' >"$T/bar$cols.txt"
        w=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$T/bar$cols.txt")
        check "train's progress bar fits a terminal of $cols columns (widest $w; $(wc -l <"$T/bar$cols.txt") redraws)" \
            "[ -s '$T/bar$cols.txt' ] && [ $w -lt $cols ] && { [ $cols -lt 75 ] || grep -q 'step [0-9]* \[[=> ]*\] loss' '$T/bar$cols.txt'; }"
    done
fi
# --dynamic 0 never moves a weight: the static loss, read in segments of 20 instead of 256.
d0=$($RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --json --dynamic 0 | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
s0=$($RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --json | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
check "eval --dynamic 0 gives the static loss ($d0 vs $s0)" \
    "[ -n '$d0' ] && awk -v a=$d0 -v b=$s0 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-5 * b) }'"
expect_error "cache size not a count" "cache" $RNN sample "$T/run/model.safetensors" --cache 2.5
expect_error "sample: cache theta without --cache" "need --cache N" $RNN sample "$T/run/model.safetensors" --cache-theta 0.5
expect_error "eval: cache theta for a model without a cache" "need a cache" $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --cache-theta 0.5
expect_error "train --cache-lambda out of range" "--cache-lambda must be in \[0, 1)" $RNN train $small --steps 2 --cache 8 --cache-lambda 1.5 --out "$T/badcache"
expect_error "bad train precision" "precision" $RNN train --precision double --steps 1
# --precision bf16 on a CPU without AVX512-BF16 (RNN_NO_BF16=1 makes this one such a CPU):
# the same run in fp32, said once; the sampler's bf16 weights need no CPU feature
RNN_NO_BF16=1 $RNN train $small --steps 4 --eval-every 4 --precision bf16 --out "$T/nobf16" >"$T/log" 2>&1
check "bf16 without AVX512-BF16 trains in fp32 and says so" \
    "[ $? -eq 0 ] && grep -q 'warning: --precision bf16 needs AVX512-BF16, which RNN_NO_BF16 .*training in fp32' '$T/log' && ! grep -q 'bf16 products' '$T/log'"
$RNN train $small --steps 4 --eval-every 4 --out "$T/fp32ref" >/dev/null 2>&1
check "... and its weights are the fp32 run's" "cmp -s '$T/nobf16/last.safetensors' '$T/fp32ref/last.safetensors'"
RNN_NO_BF16=1 $RNN sample "$T/nobf16/model.safetensors" --length 20 --precision bf16 --seed 3 >"$T/nobf16.txt" 2>&1
check "... and rnn sample --precision bf16 still runs there" "[ $? -eq 0 ] && [ -s '$T/nobf16.txt' ]"
# Where bf16 runs, the banner names AMX exactly where /proc/cpuinfo lists amx_bf16 and
# RNN_NO_AMX is unset (the same run on AVX512-BF16 vectors otherwise).
if grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then
    if grep -qw amx_bf16 /proc/cpuinfo; then want='bf16 products on AMX)'; else want='bf16 products)'; fi
    $RNN train $small --steps 2 --eval-every 2 --precision bf16 --out "$T/amx1" >"$T/log" 2>&1
    check "bf16 banner: '$want', as /proc/cpuinfo has it" "[ $? -eq 0 ] && grep -q '$want' '$T/log'"
    RNN_NO_AMX=1 $RNN train $small --steps 2 --eval-every 2 --precision bf16 --out "$T/amx0" >"$T/log" 2>&1
    check "RNN_NO_AMX=1: bf16 products, not on AMX" \
        "[ $? -eq 0 ] && grep -q 'bf16 products)' '$T/log' && ! grep -q 'on AMX' '$T/log'"
fi
printf 'oops\n' >"$T/bad.cfg"
expect_error "config file error names file:line" "bad.cfg:1" $RNN train --config "$T/bad.cfg"
printf 'steps = 1\ntokenizer = bpe\n' >"$T/tok.cfg"
expect_error "a config file's unknown tokenizer names file:line and the option" \
    'tok.cfg:2: option --tokenizer: unknown tokenizer "bpe"' $RNN train $small --config "$T/tok.cfg" --out "$T/x"
printf 'steps = 3\nresume = %s\n' "$T/run" >"$T/res.cfg"
expect_error "resume in a config file is refused (it skipped the resume checks)" "res.cfg:2: resume goes on the command line" \
    $RNN train --config "$T/res.cfg" --out "$T/x16"
/usr/bin/python3 -c "print('# ' + 'x' * 3000 + ' lr = 0.5')" >"$T/long.cfg"
printf '\xef\xbb\xbfsteps = 2\n' >"$T/bom.cfg"
$RNN train $small --config "$T/long.cfg" --config "$T/bom.cfg" --out "$T/longcfg" >/dev/null 2>&1
check "a long comment line stays a comment, and a byte order mark is skipped" \
    "[ \$? -eq 0 ] && grep -q '^lr = 0.002$' '$T/longcfg/config.txt' && grep -q '^steps = 2$' '$T/longcfg/config.txt'"
# config.txt writes a float with the fewest digits that read back as the same float: 0.002,
# not 0.00200000009 (above), and all nine where it takes them
$RNN train $small --steps 1 --lr 0.1234567891 --beta2 0.99 --out "$T/digits" >/dev/null 2>&1
check "config.txt's floats: the shortest that read back exactly" \
    "grep -q '^lr = 0.12345679$' '$T/digits/config.txt' && grep -q '^beta2 = 0.99$' '$T/digits/config.txt'"
# (0.1234567891 rounds to the float 0.123456791043...; 0.1234568 reads as another, 0.12345679 as it)
printf 'steps = 2\0junk\n' >"$T/nul.cfg"
expect_error "a NUL byte in a config file" "nul.cfg:1: a NUL byte" $RNN train --config "$T/nul.cfg" --out "$T/x16"
# A device of endless NUL bytes: refused at its first read (timeout: not read until memory runs out).
expect_error "classifier data from /dev/zero is refused at once" "/dev/zero:1: NUL byte in the file" \
    timeout 60 $RNN train --task classify --data /dev/zero --steps 1 --out "$T/x16"
expect_error "LM text from /dev/zero is refused at once (char tokenizer)" "/dev/zero: input has a NUL byte at byte offset 0" \
    timeout 60 $RNN train --data /dev/zero --steps 1 --out "$T/x16"
# With the byte tokenizer /dev/zero is endless valid data: reading stops at half the memory the
# process may use (here its address-space limit, 1.5 GB; unlimited, half of physical memory),
# with a message, before the kernel's OOM killer would end it. AddressSanitizer reserves
# terabytes of address space, so a sanitizer build cannot run under the limit.
if ldd "$RNN" 2>/dev/null | grep -q libasan; then
    ok "(skipped under AddressSanitizer) endless byte data stops at the memory limit"
else
    expect_error "endless byte data stops at half the memory limit, with a message" \
        "/dev/zero: too large to read into memory (over 0.7" \
        bash -c "ulimit -v 1500000 && exec timeout 120 $RNN train --data /dev/zero --tokenizer byte --steps 1 --out '$T/x16'"
fi

# --- classification: train, eval, classify, resume
if [ -f "$DATA/trec/train.tsv" ]; then head -n 800 "$DATA/trec/train.tsv" | cut -f1,3 >"$T/cls.tsv"
else for i in $(seq 1 400); do echo -e "pos\tgood fine great film $i"; echo -e "neg\tbad dull awful film $i"; done >"$T/cls.tsv"; fi
cls="--task classify --data $T/cls.tsv --layers 1 --hidden 16 --embed 16 --bidirectional --batch 16 --threads 1 --progress log --log-every 0"
# a classifier's resume checks its examples and labels (the state's fingerprints)
head -n 200 "$T/cls.tsv" >"$T/own_cls.tsv"
$RNN train ${cls/cls.tsv/own_cls.tsv} --steps 4 --eval-every 2 --out "$T/own_cls" >/dev/null 2>&1
# a classifier's --batch over its examples is cut to them (not memory for 100000 rows)
$RNN train ${cls/cls.tsv/own_cls.tsv} --batch 100000 --steps 1 --out "$T/bigb" >"$T/bigb.log" 2>&1
$RNN train ${cls/cls.tsv/own_cls.tsv} --batch 100000 --steps 2 --out "$T/bigb" --resume "$T/bigb" >/dev/null 2>&1
check "--batch 100000 of ~180 examples trains batches of them all, says so, and the same command resumes" \
    "grep -q 'note: --batch 100000 is more than the 1[0-9]* training examples: batches of 1[0-9]*' '$T/bigb.log' && grep -qx 'batch = 100000' '$T/bigb/config.txt' && [ \$(tail -n 1 '$T/bigb/metrics.csv' | cut -d, -f1) = 2 ]"
awk -F'\t' 'BEGIN { OFS = "\t" } NR == 2 { $1 = ($1 == "DESC" ? "HUM" : "DESC") } { print }' "$T/own_cls.tsv" >"$T/own_cls2.tsv"
mv "$T/own_cls2.tsv" "$T/own_cls.tsv"
expect_error "a classifier's resume whose labels changed" "own_cls.tsv is not what this run trained on (1[0-9]* examples then, 1[0-9]* now" \
    $RNN train --resume "$T/own_cls" --steps 6
# classification data from a pipe (or /proc: files whose size reads 0) is read to its end
cat "$T/own_cls.tsv" | $RNN train ${cls/$T\/cls.tsv//dev/stdin} --steps 1 --out "$T/pipecls" >"$T/pipecls.log" 2>&1
$RNN train ${cls/cls.tsv/own_cls.tsv} --steps 1 --out "$T/filecls" >"$T/filecls.log" 2>&1
a=$(sed -n 's/^[^:]*: \([0-9]* examples\).*/\1/p' "$T/pipecls.log" | head -1); b=$(sed -n 's/^[^:]*: \([0-9]* examples\).*/\1/p' "$T/filecls.log" | head -1)
check "classification data read from a pipe holds the file's examples ($a, $b)" \
    "[ -s '$T/pipecls/model.safetensors' ] && [ -n '$a' ] && [ '$a' = '$b' ] && grep -q '^/dev/stdin: ' '$T/pipecls.log'"
$RNN train $cls --epochs 2 --out "$T/cls" >"$T/clslog" 2>&1
check "classifier trains" "[ $? -eq 0 ] && [ -s '$T/cls/model.safetensors' ]"
check "classifier log names the classes" "grep -q 'classes (' '$T/clslog'"
if [ -n "${RNN_EXAMPLES:-}" ] && [ -x "$RNN_EXAMPLES/train" ]; then
    "$RNN_EXAMPLES/train" "$T/cls.tsv" "$T/extrain" 0.3 >"$T/exlog" 2>&1
    check "examples/train trains through the API, its callback printing validations and stopping at the target" \
        "[ \$? -eq 0 ] && grep -q '^step [0-9]* (epoch 1, .*accuracy' '$T/exlog' && grep -q '^reached 0.30: stopping$' '$T/exlog' && [ -s '$T/extrain/model.safetensors' ]"
fi
ev=$($RNN eval "$T/cls/model.safetensors" --data "$T/cls.tsv" --json)
check "classifier eval --json has accuracy, macro_f1, confusion (and no language model's perplexity)" \
    "printf '%s' '$ev' | grep -q '\"accuracy\": .*\"macro_f1\": .*\"confusion\": \[\[' && ! printf '%s' '$ev' | grep -q perplexity"
out=$($RNN classify "$T/cls/model.safetensors" --json "What is the capital of France ?")
check "classify --json prints label and probabilities" "printf '%s' '$out' | grep -q '^{\"label\": \".*\", \"probabilities\": \[.*\]}$'"
{ printf 'HUM\tWho wrote <a href="\xff">Hamlet</a> ?\n'; cat "$T/own_cls.tsv"; } >"$T/tagcls.tsv"
$RNN train ${cls/cls.tsv/tagcls.tsv} --strip-html --steps 1 --out "$T/tagcls" >/dev/null 2>&1
check "--strip-html: a classifier's data is read as its tokenizer reads it (a byte inside a tag is not read)" \
    "[ -s '$T/tagcls/model.safetensors' ]"
expect_error "... and refused without --strip-html" "tagcls.tsv:1: invalid UTF-8 at byte offset 19 of the text" \
    $RNN train ${cls/cls.tsv/tagcls.tsv} --steps 1 --out "$T/x"
a=$(printf 'What is the capital of France ?\n' | $RNN classify "$T/cls/model.safetensors" --json)
b=$(printf '\xef\xbb\xbfWhat is the capital of France ?\n' | $RNN classify "$T/cls/model.safetensors" --json)
check "rnn classify: a byte order mark at the start of its input is no text" "[ -n '$a' ] && [ '$a' = '$b' ]"
n=$(printf 'one text\nanother text\n' | $RNN classify "$T/cls/model.safetensors" | wc -l)
check "classify reads one text per line from stdin" "[ $n -eq 2 ]"
head -n 40 "$T/cls.tsv" >"$T/cls40.tsv"
$RNN train --task classify --data "$T/cls40.tsv" --val-frac 0.999 --steps 1 --threads 1 --out "$T/vf999" >"$T/vf999.log" 2>&1
nc=$(sed -n 's/^classes (\([0-9]*\)).*/\1/p' "$T/vf999.log"); ntr=$(grep -o '; [0-9]* train /' "$T/vf999.log" | grep -o '[0-9]*')
check "a --val-frac that would hold out every example keeps one of each class for training ($ntr for $nc classes)" \
    "[ -n '$nc' ] && [ '$ntr' = '$nc' ]"
# a checkpoint's class names: unique, non-empty, valid UTF-8, no control characters (rnn classify prints them)
if command -v python3 >/dev/null; then
    n=$(python3 -c "import json,struct,sys; b=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',b[:8])[0]; print(len(json.loads(json.loads(b[8:8+n])['__metadata__']['labels'])))" "$T/cls/model.safetensors")
    for kind in dup esc empty; do
        case $kind in
            dup) l=$(python3 -c "import json; print(json.dumps(['A'] * $n))") ;;
            esc) l=$(python3 -c "import json; print(json.dumps(['H\nU\x1b[31m'] + ['L%d' % i for i in range(1, $n)]))") ;;
            empty) l=$(python3 -c "import json; print(json.dumps([''] + ['L%d' % i for i in range(1, $n)]))") ;;
        esac
        $DMG "$T/cls/model.safetensors" "$T/lab_$kind.safetensors" labels "$l"
    done
    expect_error "class names given twice" 'lab_dup.safetensors: the class name "A" is given twice: a damaged file' \
        $RNN classify "$T/lab_dup.safetensors" "Who ?"
    expect_error "a class name with control characters" "lab_esc.safetensors: label 0 holds a control character" \
        $RNN classify "$T/lab_esc.safetensors" "Who ?"
    expect_error "an empty class name" "lab_empty.safetensors: label 0 is empty" $RNN classify "$T/lab_empty.safetensors" "Who ?"
fi
# --- --class-weight and --label-smoothing (their losses: tests/test_layers.c and tests/test_train.c, against PyTorch)
{ for i in $(seq 1 30); do printf 'big\tthe big one %d\n' $i; done
  for i in $(seq 1 10); do printf 'mid\ta middle one %d\n' $i; done
  for i in $(seq 1 5); do printf 'rare\trare thing %d\n' $i; done; } >"$T/cw.tsv"
cwo="--task classify --data $T/cw.tsv --val-frac 0.3 --layers 1 --hidden 8 --embed 8 --batch 8 --threads 1 --progress log --log-every 0"
$RNN train $cwo --class-weight balanced --steps 1 --out "$T/cwb" >/dev/null 2>&1
# --val-frac 0.3 holds out 9 big, 3 mid, 2 rare: 21 + 7 + 3 = 31 train, so 31/63, 31/21, 31/9 (45/90, 45/30, 45/15 over all the data)
want="class weights (balanced, from the training split's counts): big 0.4921, mid 1.476, rare 3.444"
check "--class-weight balanced counts the training split, and the log says the weights in one line" "grep -qxF \"\$want\" '$T/cwb/train.log'"
$RNN train $cwo --class-weight 3,1,0.5 --label-smoothing 0.2 --steps 8 --eval-every 4 --out "$T/cw8" >/dev/null 2>&1
$RNN train $cwo --class-weight 3,1,0.5 --label-smoothing 0.2 --steps 4 --eval-every 4 --out "$T/cw4" >/dev/null 2>&1
$RNN train --resume "$T/cw4" --steps 8 >"$T/cw4r.log" 2>&1
$RNN train $cwo --steps 8 --eval-every 4 --out "$T/cwplain" >/dev/null 2>&1
a=$(sed -n 3p "$T/cw8/metrics.csv" | cut -d, -f1,4,5); b=$(sed -n 3p "$T/cw4/metrics.csv" | cut -d, -f1,4,5)
c=$(sed -n 3p "$T/cwplain/metrics.csv" | cut -d, -f1,4,5)
check "a resume keeps --class-weight and --label-smoothing: step-8 losses as one run's ($a vs $b; without them $c)" \
    "[ -n '$a' ] && [ '$a' = '$b' ] && [ '$a' != '$c' ] && cmp -s '$T/cw8/last.safetensors' '$T/cw4/last.safetensors'"
check "... from config.txt, and the resume's log says them again" \
    "grep -qx 'class-weight = 3,1,0.5' '$T/cw4/config.txt' && grep -q '^label-smoothing = 0.2' '$T/cw4/config.txt' && grep -qx 'class weights (given): big 3, mid 1, rare 0.5' '$T/cw4r.log' && grep -q '^label smoothing 0.2 in the training loss' '$T/cw4r.log'"
$RNN train $small --label-smoothing 0.1 --steps 10 --eval-every 5 --out "$T/lsm10" >/dev/null 2>&1
$RNN train $small --label-smoothing 0.1 --steps 5 --eval-every 5 --out "$T/lsm5" >/dev/null 2>&1
$RNN train --resume "$T/lsm5" --steps 10 >/dev/null 2>&1
a=$(sed -n 3p "$T/lsm10/metrics.csv" | cut -d, -f1,4,5); b=$(sed -n 3p "$T/lsm5/metrics.csv" | cut -d, -f1,4,5)
check "a language model's resume keeps --label-smoothing ($a vs $b)" \
    "[ -n '$a' ] && [ '$a' = '$b' ] && cmp -s '$T/lsm10/last.safetensors' '$T/lsm5/last.safetensors'"
# validation reports the plain loss, as rnn eval does: with weights and smoothing, the same number
head -n 12 "$T/cw.tsv" >"$T/cwval.tsv"; tail -n 6 "$T/cw.tsv" >>"$T/cwval.tsv"
$RNN train ${cwo/--val-frac 0.3/--val $T/cwval.tsv} --class-weight 3,1,0.5 --label-smoothing 0.2 --steps 2 --eval-every 2 --out "$T/cwv" >/dev/null 2>&1
v1=$(tail -n 1 "$T/cwv/metrics.csv" | cut -d, -f5)
v2=$($RNN eval "$T/cwv/model.safetensors" --data "$T/cwval.tsv" --json | sed -E 's/.*"loss": ([0-9.]+).*/\1/')
check "validation loss with --class-weight and --label-smoothing is the plain loss rnn eval reports ($v1, $v2)" "close '$v1' '$v2' 2e-6"
out=$($RNN train --help)
check "rnn train --help says each weighting's normalisation, the class order, and what validation reports" \
    "printf '%s' \"\$out\" | grep -q -- '--class-weight X .*balanced.*class order.*sorted numerically.*sum of w_y\*loss / sum of w_y.*CrossEntropyLoss(weight=w).*mean of w_y\*loss.*stays unweighted' && printf '%s' \"\$out\" | grep -q -- '--label-smoothing X .*label_smoothing=X.*y\*(1-X) + X/2.*rnn eval report the plain loss'"
expect_error "--class-weight with a count that is not the classes'" \
    "--class-weight gives 2 weights for 3 classes (big, mid, rare): one per class, in that order" \
    $RNN train $cwo --class-weight 1,2 --steps 1 --out "$T/xcw1"
expect_error "--class-weight with a zero weight" "option --class-weight: '0' is not a positive number" \
    $RNN train $cwo --class-weight 1,0,2 --steps 1 --out "$T/xcw2"
expect_error "--class-weight that is no list" "option --class-weight: 'heavy' is not a positive number" \
    $RNN train $cwo --class-weight heavy --steps 1 --out "$T/xcw3"
printf 'steps = 1\nclass-weight = 1,-1,1\n' >"$T/cw.cfg"
expect_error "a config file's bad --class-weight names file:line" "cw.cfg:2: option --class-weight: '-1' is not a positive number" \
    $RNN train $cwo --config "$T/cw.cfg" --out "$T/xcw4"
expect_error "--class-weight on a language model" "--class-weight balanced is for classifiers (--task classify)" \
    $RNN train $small --class-weight balanced --steps 1 --out "$T/xcw5"
expect_error "--label-smoothing 1" "--label-smoothing must be in \[0, 1) (got 1)" $RNN train $cwo --label-smoothing 1 --steps 1 --out "$T/xcw6"
expect_error "--label-smoothing below 0" "--label-smoothing must be in \[0, 1) (got -0.1)" $RNN train $small --label-smoothing -0.1 --steps 1 --out "$T/xcw7"
for i in $(seq 1 20); do printf '0\tawful bad %d\n1\tgood great %d\n' $i $i; done >"$T/cw01.tsv"
printf 'neg\npos\nmixed\n' >"$T/cwnames.txt"
expect_error "--class-weight balanced with a class no training example has" \
    'class-weight balanced: class "mixed" has no training examples, so no weight; give one per class' \
    $RNN train --task classify --data "$T/cw01.tsv" --label-names "$T/cwnames.txt" --class-weight balanced --steps 1 --out "$T/xcw8"

# a weight for each of 600 classes: a list of 2,400 characters, written to config.txt and resumed whole
for i in $(seq 100 699); do printf 'c%d\tthing number %d\n' $i $i; done >"$T/cw600.tsv"
cw600=$(for i in $(seq 100 698); do printf '1.5,'; done; printf '2')
$RNN train --task classify --data "$T/cw600.tsv" --val "$T/cw600.tsv" --header no --layers 1 --hidden 4 --embed 4 --batch 8 --threads 1 \
    --progress log --log-every 0 --class-weight "$cw600" --steps 1 --out "$T/cw600" >/dev/null 2>&1
(cd "$T" && $RNN train --resume cw600 --steps 2 >"$T/cw600r.log" 2>&1)
check "--class-weight with 600 weights (2,400 characters) trains, is written whole to config.txt and resumes" \
    "grep -qxF 'class-weight = $cw600' '$T/cw600/config.txt' && grep -q '^class weights (given): c100 1.5, c101 1.5, .*(505 more)\$' '$T/cw600r.log' && grep -q '^done: 2 steps' '$T/cw600r.log'"
check "a resume names its run directory as an absolute path, as the run's start did (--resume cw600 from its parent)" \
    "grep -q 'run dir $(cd "$T" && pwd -P)/cw600\$' '$T/cw600r.log'"

# an option given twice, an empty value, endless or binary input: refused, not the last one silently
expect_error "classify --ensemble given twice" "option --ensemble is given twice" \
    $RNN classify "$T/cls/model.safetensors" --ensemble "$T/cls/model.safetensors" --ensemble "$T/cls/model.safetensors" "Who ?"
expect_error "eval --ensemble given twice (the first list would be dropped)" "eval: option --ensemble is given twice (list the models in one: A,B)" \
    $RNN eval "$T/cls/model.safetensors" --data "$T/cls.tsv" --ensemble "$T/cls/model.safetensors" --ensemble "$T/cls/model.safetensors"
expect_error "sample --stop given twice (the first string would be dropped)" " sample: option --stop is given twice" \
    $RNN sample "$T/run/model.safetensors" --stop the --stop And
# classify takes the last of a flag given twice, as the other commands do
a=$($RNN classify "$T/cls/model.safetensors" --json --max-len 1 --max-len 3 "Who wrote Hamlet ?")
b=$($RNN classify "$T/cls/model.safetensors" --json --max-len 3 "Who wrote Hamlet ?")
c=$($RNN classify "$T/cls/model.safetensors" --json --max-len 1 "Who wrote Hamlet ?")
check "classify: the last of a flag given twice counts" "[ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ] && [ \"\$a\" != \"\$c\" ]"
expect_error "eval --format with an empty value" "option --format needs a value" \
    $RNN eval "$T/cls/model.safetensors" --data "$T/cls.tsv" --format ""
expect_error "classify reading /dev/zero stops at its first NUL byte" "stdin line 1: input has a NUL byte at byte offset 0" \
    timeout 20 $RNN classify "$T/cls/model.safetensors" </dev/zero
expect_error "--cache on a classifier is refused" "language models" $RNN eval "$T/cls/model.safetensors" --data "$T/cls.tsv" --cache 10
# the confusion matrix cuts a long class name at 16 terminal columns, not inside a character;
# a CJK character takes two columns
head -n 60 "$T/cls.tsv" | awk -F'\t' 'BEGIN { OFS = "\t" } { $1 = (NR % 3 == 1 ? "ééééééééééééééééééé" : NR % 3 == 2 ? "中文中文中文中文中文" : "b"); print }' >"$T/utf8lab.tsv"
$RNN train ${cls/cls.tsv/utf8lab.tsv} --steps 1 --out "$T/utf8lab" >/dev/null 2>&1
out=$($RNN eval "$T/utf8lab/model.safetensors" --data "$T/utf8lab.tsv")
check "the confusion matrix cuts a class name between characters (valid UTF-8)" \
    "printf '%s\n' '$out' | iconv -f UTF-8 -t UTF-8 >/dev/null && printf '%s\n' '$out' | grep -Eq '^  éééééééééééééééé +[0-9]+ +[0-9]+ +[0-9]+$' \
    && printf '%s\n' '$out' | grep -Eq '^  中文中文中文中文 +[0-9]+ +[0-9]+ +[0-9]+$' \
    && printf '%s\n' '$out' | grep -Eq '^  b {15} +[0-9]+ +[0-9]+ +[0-9]+$'"
check "the confusion matrix heads its columns with the class names, cut to 7 columns" \
    "printf '%s\n' '$out' | grep -Eq '^ {25}b ééééééé  中文中$'"
if command -v python3 >/dev/null; then # a classifier whose outputs overflow: no probabilities, no metrics
    setw "$T/cls/model.safetensors" "$T/clsbig.safetensors" head.weight 3e38 all
    expect_error "classify: probabilities that are not finite are an error" "stdin line 1: the model's probabilities are not finite" \
        sh -c "echo 'what is it' | $RNN classify '$T/clsbig.safetensors' --json"
    expect_error "eval: a classifier's loss that is not a number is an error, not the 1e-30 floor's" \
        "clsbig.safetensors: the loss on .*cls.tsv is not a number: the model's outputs are not finite" \
        $RNN eval "$T/clsbig.safetensors" --data "$T/cls.tsv"
fi
expect_error "--streams on a classifier is refused" "--streams reads a language model's text" $RNN eval "$T/cls/model.safetensors" --data "$T/cls.tsv" --streams 2
expect_error "--dynamic on a classifier is refused" "language models" $RNN eval "$T/cls/model.safetensors" --data "$T/cls.tsv" --dynamic 0.1
# --- --max-len: a classifier reads texts in rnn eval and classify as it was trained (its config says how)
LC_ALL=C grep -v '[^ -~	]' "$T/cls.tsv" | head -n 300 >"$T/ascii.tsv" # char tokens = bytes: cut by awk
LC_ALL=C awk -F'\t' '{ print $1 "\t" substr($2, length($2) > 12 ? length($2) - 11 : 1) }' "$T/ascii.tsv" >"$T/tail12.tsv"
LC_ALL=C awk -F'\t' '{ print $1 "\t" substr($2, 1, 12) }' "$T/ascii.tsv" >"$T/head12.tsv"
$RNN train $cls --tokenizer char --max-len 12 --truncate tail --steps 20 --eval-every 20 --val "$T/ascii.tsv" \
    --out "$T/cut" >"$T/cutlog" 2>&1
check "a classifier trained with --max-len 12 --truncate tail: rnn info says how it reads texts" \
    "$RNN info '$T/cut/model.safetensors' | grep -q 'read by their last 12 tokens, as trained' && $RNN info '$T/cls/model.safetensors' | grep -q 'texts *read whole'"
eloss() { $RNN eval "$@" --json 2>/dev/null | sed -nE 's/^\{"loss": ([-0-9.e+]+).*/\1/p'; }
c=$(eloss "$T/cut/model.safetensors" --data "$T/ascii.tsv"); v=$(tail -n 1 "$T/cut/metrics.csv" | cut -d, -f5)
check "rnn eval gives training's validation loss on the same file ($c vs $v)" "close '$c' '$v' 1e-4"
w=$(eloss "$T/cut/model.safetensors" --data "$T/tail12.tsv" --max-len 0)
check "rnn eval: each text read by its last 12 characters, as the texts cut to them and read whole ($c vs $w)" \
    "[ -n '$c' ] && [ '$c' = '$w' ]"
h=$(eloss "$T/cut/model.safetensors" --data "$T/ascii.tsv" --truncate head); hw=$(eloss "$T/cut/model.safetensors" --data "$T/head12.tsv")
check "rnn eval --truncate head: the first 12 ($h vs $hw)" "[ -n '$h' ] && [ '$h' = '$hw' ] && [ '$h' != '$c' ]"
f=$(eloss "$T/cut/model.safetensors" --data "$T/ascii.tsv" --max-len 0)
check "rnn eval --max-len 0 reads whole texts ($f, not $c)" "[ -n '$f' ] && [ '$f' != '$c' ]"
$RNN eval "$T/cut/model.safetensors" --data "$T/ascii.tsv" >/dev/null 2>"$T/cut.err"
n=$(awk -F'\t' 'length($2) > 12' "$T/ascii.tsv" | wc -l)
check "rnn eval notes how many texts were cut ($n)" "grep -q \"note: .*ascii.tsv: $n of 300 texts are longer than 12 tokens and were read by their last 12 (as the model was trained\" '$T/cut.err'"
long="What is the name of the longest river in the world ?"
a=$($RNN classify "$T/cut/model.safetensors" --json "$long" 2>"$T/cut.err"); b=$($RNN classify "$T/cut/model.safetensors" --json --max-len 0 "${long: -12}")
check "rnn classify reads a text by its last 12 characters, as the model was trained" \
    "[ -n '$a' ] && [ '$a' = '$b' ] && grep -q 'note: 1 of 1 texts are longer than 12 tokens' '$T/cut.err'"
# rnn tokenize shows what the classifier reads: the last 12 characters' ids, the cut counted; an empty
# text as one unknown token (which rnn classify reads it as)
a=$(printf '%s\n' "$long" | $RNN tokenize "$T/cut/model.safetensors"); b=$(printf '%s\n' "${long: -12}" | $RNN tokenize "$T/cut/model.safetensors")
j=$(printf '%s\n\n' "$long" | $RNN tokenize "$T/cut/model.safetensors" --json | tr '\n' '|')
nc=$(( ${#long} - 12 ))
check "rnn tokenize: a classifier's text cut to its --max-len tail, an empty one read as its unknown token ($a; $j)" \
    "[ \$(printf '%s' '$a' | wc -w) -eq 12 ] && [ '$a' = '$b' ] && printf '%s' '$j' | grep -q '\"cut\": $nc}|{\"ids\": \[[0-9]*\], \"tokens\": \[\"[^\"]*\"\], \"cut\": 0}|\$'"
a=$($RNN classify "$T/cut/model.safetensors" --json --max-len 5 --truncate head "$long" 2>/dev/null); b=$($RNN classify "$T/cut/model.safetensors" --json --max-len 0 "${long:0:5}")
check "rnn classify --max-len 5 --truncate head: its first 5" "[ -n '$a' ] && [ '$a' = '$b' ]"
a=$($RNN classify "$T/cut/model.safetensors" --json --max-len 0 "$long"); b=$($RNN classify "$T/cut/model.safetensors" --json "$long" 2>/dev/null)
check "rnn classify --max-len 0 reads the whole text" "[ -n '$a' ] && [ '$a' != '$b' ]"
expect_error "--truncate for a model that reads whole texts, without --max-len" "cls/model.safetensors was trained on whole texts: give --max-len N" \
    $RNN classify "$T/cls/model.safetensors" --truncate tail "Who ?"
expect_error "classify --truncate that is neither head nor tail" "--truncate 'middle': expected head or tail" \
    $RNN classify "$T/cut/model.safetensors" --truncate middle "Who ?"
expect_error "eval --max-len on a language model" "eval: --max-len cuts a classifier's texts" \
    $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --max-len 5
a=$($RNN classify "$T/cut/model.safetensors" --json --max-len 5 "$long" 2>/dev/null); b=$($RNN classify "$T/cut/model.safetensors" --json --max-len 0 "${long: -5}")
check "rnn classify --max-len 5 alone keeps the model's side (its last 5)" "[ -n '$a' ] && [ '$a' = '$b' ]"
expect_error "--truncate with --max-len 0" "--truncate head needs --max-len above 0" \
    $RNN eval "$T/cut/model.safetensors" --data "$T/ascii.tsv" --max-len 0 --truncate head
a=$($RNN eval "$T/cut/model.safetensors" --data "$T/ascii.tsv" --json --threads 1 2>/dev/null); b=$($RNN eval "$T/cut/model.safetensors" --data "$T/ascii.tsv" --json --threads 2 2>/dev/null)
c=$($RNN classify "$T/cut/model.safetensors" --json --threads=1 "$long" 2>/dev/null); d=$($RNN classify "$T/cut/model.safetensors" --json --threads 2 "$long" 2>/dev/null)
check "rnn eval and classify --threads 1 and 2 agree" "[ -n '$a' ] && [ '$a' = '$b' ] && [ -n '$c' ] && [ '$c' = '$d' ]"
expect_error "eval --threads that is not a number" "--threads 'x' must be a number" $RNN eval "$T/cut/model.safetensors" --data "$T/ascii.tsv" --threads x
a=$($RNN classify "$T/cut/model.safetensors" --json --max-len 1e1 "$long" 2>/dev/null); b=$($RNN classify "$T/cut/model.safetensors" --json --max-len 10 "$long" 2>/dev/null)
check "--max-len 1e1 is 10" "[ -n '$a' ] && [ '$a' = '$b' ]"
tr '\n' ' ' <"$T/text.txt" >"$T/oneline.txt" # 60,000 characters: the recurrent cache works in chunks
a=$($RNN classify "$T/cut/model.safetensors" --json --max-len 0 --threads 1 <"$T/oneline.txt"); b=$($RNN classify "$T/cut/model.safetensors" --json --max-len 0 --threads 2 <"$T/oneline.txt")
check "a 60,000-token text through a bidirectional classifier: 1 and 2 threads agree" "[ -n '$a' ] && [ '$a' = '$b' ]"
expect_error "classify --max-len= with no value" "option --max-len needs a value" $RNN classify "$T/cut/model.safetensors" --max-len= "Who ?"
expect_error "classify --max-len taking the checkpoint as its value is named, not the text" "--max-len '.*cut/model.safetensors' must be" \
    $RNN classify --max-len "$T/cut/model.safetensors" "Who ?"
$RNN train $cls --tokenizer char --init-from "$T/cut/model.safetensors" --data "$T/ascii.tsv" --steps 1 --out "$T/cutft" >"$T/cutft.log" 2>&1
check "fine-tuning a classifier without its --max-len says the texts are now read whole" \
    "grep -q 'note: .*cut/model.safetensors read texts by their last 12 tokens; this run reads them whole' '$T/cutft.log' && $RNN info '$T/cutft/model.safetensors' | grep -q 'texts *read whole'"
# a classifier grows too: fine-tuned from a classifier, or started from a language model
awk -F'\t' '{ print $1 "\t" $2 " caf\303\251 \303\261and\303\272" }' "$T/ascii.tsv" >"$T/accents.tsv"
$RNN train $cls --tokenizer char --init-from "$T/cut/model.safetensors" --data "$T/accents.tsv" --grow-vocab --steps 1 --out "$T/cgrow" >"$T/cgrow.log" 2>&1
v0=$($RNN info "$T/cut/model.safetensors" --json | grep -o '"vocab_size": [0-9]*' | head -1 | grep -o '[0-9]*$')
v1=$($RNN info "$T/cgrow/model.safetensors" --json | grep -o '"vocab_size": [0-9]*' | head -1 | grep -o '[0-9]*$')
check "--grow-vocab fine-tuning a classifier adds the characters of its data ($v0 -> $v1)" \
    "[ -n '$v1' ] && [ $v1 -gt $v0 ] && grep -q -- '--grow-vocab: .* ($v0 -> $v1)' '$T/cgrow.log'"
$RNN train --task classify --data "$T/cls.tsv" --layers 1 --hidden 32 --init-from "$T/run/model.safetensors" --grow-vocab --steps 1 --out "$T/lgrow" >"$T/lgrow.log" 2>&1
check "--grow-vocab for a classifier started from a language model: the LM's embedding grows, then is copied" \
    "grep -q -- '--grow-vocab: .* added' '$T/lgrow.log' && grep -q 'initialised [0-9]* tensors' '$T/lgrow.log' && [ -s '$T/lgrow/model.safetensors' ]"
if command -v python3 >/dev/null; then
    $DMG "$T/cut/model.safetensors" "$T/cutbad.safetensors" cfg truncate '"middle"'
    expect_error "a config whose truncate is neither head nor tail" 'config: "truncate" must be "head" or "tail"' \
        $RNN info "$T/cutbad.safetensors"
    $DMG tests/fixtures/torch_cls.safetensors "$T/att4.safetensors" cfg max_len 4
    $DMG "$T/att4.safetensors" "$T/att4t.safetensors" cfg truncate '"tail"'
    a=$($RNN classify "$T/att4t.safetensors" --attention --json "a fine film" 2>/dev/null | grep -o '"position": [0-9]*' | sort | tr -d '\n')
    check "classify --attention of a text cut to its tail counts positions in the whole text (7-10 of 11)" \
        "[ '$a' = '\"position\": 10\"position\": 7\"position\": 8\"position\": 9' ]"
    $DMG "$T/cut/model.safetensors" "$T/cut3h.safetensors" cfg truncate '"head"'
    $DMG "$T/cut3h.safetensors" "$T/cut3.safetensors" cfg max_len 3
    $RNN eval "$T/cut/model.safetensors" --ensemble "$T/cut3.safetensors" --data "$T/ascii.tsv" >/dev/null 2>"$T/ens.err"
    n3=$(awk -F'\t' 'length($2) > 3' "$T/ascii.tsv" | wc -l)
    check "rnn eval --ensemble: each model cuts as it was trained, and the note counts each one's ($n, $n3)" \
        "grep -q 'note: .*ascii.tsv: texts longer than each model.s max_len were cut (as each was trained); of 300 texts, the models cut $n, $n3 ' '$T/ens.err'"
    a=$($RNN classify "$T/cut/model.safetensors" --ensemble "$T/cut3.safetensors" --json "$long" 2>"$T/ens.err")
    b=$($RNN classify "$T/cut/model.safetensors" --json --max-len 0 "${long: -12}" | sed -E 's/.*\[(.*)\].*/\1/')
    c=$($RNN classify "$T/cut3.safetensors" --json --max-len 0 "${long:0:3}" | sed -E 's/.*\[(.*)\].*/\1/')
    m=$(awk -v b="$b" -v c="$c" 'BEGIN { n = split(b, x, ", "); split(c, y, ", "); for (i = 1; i <= n; i++) printf "%.6f ", (x[i] + y[i]) / 2 }')
    g=$(printf '%s' "$a" | sed -E 's/.*\[(.*)\].*/\1/' | awk -F', ' '{ for (i = 1; i <= NF; i++) printf "%.6f ", $i }')
    check "rnn classify --ensemble: the mean of each model reading its own cut ($g)" "[ -n '$m' ] && [ '$g' = '$m' ] && grep -q 'the models cut 1, 1 ' '$T/ens.err'"
    $DMG "$T/run/model.safetensors" "$T/lmcut.safetensors" cfg max_len 5
    expect_error "a language model's config with max_len" "config: max_len and truncate (--max-len, --truncate) are for classifiers" \
        $RNN info "$T/lmcut.safetensors"
fi
expect_error "a bidirectional language model is refused" "cannot be bidirectional" $RNN train $small --bidirectional --steps 2 --out "$T/bilm"
expect_error "sample --dynamic without a prime refused" "give --prime" $RNN sample "$T/run/model.safetensors" --dynamic 0.1
expect_error "sample --dynamic with a 1-token prime refused" "at least 2 tokens" $RNN sample "$T/run/model.safetensors" --prime "K" --dynamic 0.1
expect_error "sample --prime with --prime-file refused" "one of them" $RNN sample "$T/run/model.safetensors" --prime "K" --prime-file "$T/text.txt"
expect_error "sample --prime-file missing file named" "nonexistent.txt: cannot open" $RNN sample "$T/run/model.safetensors" --prime-file "$T/nonexistent.txt"
expect_error "sample --dynamic on a classifier refused" "needs a language model" $RNN sample "$T/cls/model.safetensors" --prime "a fine film" --dynamic 0.1
expect_error "sample --dynamic-seg without --dynamic refused" "dynamic-seg needs --dynamic" $RNN sample "$T/run/model.safetensors" --prime "KING" --dynamic-seg 3
head -c 300 "$T/text.txt" >"$T/prime.txt"
out=$($RNN sample "$T/run/model.safetensors" --prime-file "$T/prime.txt" --length 20 --temperature 0)
check "sample --prime-file: the output starts with the file's text" "[ \"\${out:0:300}\" = \"\$(cat '$T/prime.txt')\" ]"
$RNN train $cls --epochs 1 --out "$T/clshalf" >/dev/null 2>&1
$RNN train --resume "$T/clshalf" --epochs 2 >/dev/null 2>&1
a=$(tail -1 "$T/cls/metrics.csv" | cut -d, -f1,4,5,6); b=$(tail -1 "$T/clshalf/metrics.csv" | cut -d, -f1,4,5,6)
check "classifier resume gives the same losses ($a vs $b)" "[ -n '$a' ] && [ '$a' = '$b' ]"
# --- rnn eval --ensemble: the mean of the models' class probabilities, each model
# with its own tokenizer, against the same mean computed from `rnn classify --json`
$RNN train $cls --tokenizer char --seed 5 --steps 20 --out "$T/clsens" >/dev/null 2>&1
ens=$($RNN eval "$T/cls/model.safetensors" --ensemble "$T/clsens/model.safetensors" --data "$T/cls.tsv" --json)
cut -f2 "$T/cls.tsv" | $RNN classify "$T/cls/model.safetensors" --json >"$T/ens_a"
cut -f2 "$T/cls.tsv" | $RNN classify "$T/clsens/model.safetensors" --json >"$T/ens_b"
check "eval --ensemble equals the mean of each model's classify probabilities (accuracy, loss)" "python3 -c '
import json, math, sys
ev = json.loads(sys.argv[1]); labels = ev[\"labels\"]
gold = [l.split(\"\t\")[0] for l in open(sys.argv[2])]
a = [json.loads(l)[\"probabilities\"] for l in open(sys.argv[3])]
b = [json.loads(l)[\"probabilities\"] for l in open(sys.argv[4])]
right = loss = 0
for g, pa, pb in zip(gold, a, b):
    p = [(x + y) / 2 for x, y in zip(pa, pb)]
    y = labels.index(g)
    right += max(range(len(p)), key=p.__getitem__) == y
    loss -= math.log(max(p[y], 1e-30))
n = len(gold)
ok = ev[\"ensemble\"] == 2 and ev[\"examples\"] == n and abs(ev[\"accuracy\"] - right / n) < 1e-9 and abs(ev[\"loss\"] - loss / n) < 1e-4
sys.exit(0 if ok and len(a) == len(b) == n else 1)
' '$ens' '$T/cls.tsv' '$T/ens_a' '$T/ens_b'"
# each member reads the texts with its own tokenizer (word, char): its own token and unknown counts
counts=$($RNN eval "$T/cls/model.safetensors" --data "$T/cls.tsv" --json | grep -o '"tokens": [0-9]*, "unk": [0-9]*' | tr -dc '0-9 ')
counts2=$($RNN eval "$T/clsens/model.safetensors" --data "$T/cls.tsv" --json | grep -o '"tokens": [0-9]*, "unk": [0-9]*' | tr -dc '0-9 ')
check "eval --ensemble gives each model's own token and unknown counts ($counts; $counts2)" "python3 -c '
import json, sys
ev = json.loads(sys.argv[1]); a = sys.argv[2].split(); b = sys.argv[3].split()
sys.exit(0 if ev[\"members_tokens\"] == [int(a[0]), int(b[0])] and ev[\"members_unk\"] == [int(a[1]), int(b[1])] and a[0] != b[0] else 1)
' '$ens' '$counts' '$counts2'"
metrics='s/.*"loss": ([0-9.]+).*"accuracy": ([0-9.]+), "macro_f1": ([0-9.]+).*/\1 \2 \3/'
one=$($RNN eval "$T/cls/model.safetensors" --data "$T/cls.tsv" --json | sed -E "$metrics")
two=$($RNN eval "$T/cls/model.safetensors" --ensemble "$T/cls/model.safetensors" --data "$T/cls.tsv" --json | sed -E "$metrics")
check "an ensemble of a model with itself scores as the model: loss, accuracy, macro-F1 ($one; $two)" \
    "[ -n '$one' ] && [ '$one' = '$two' ]"
expect_error "--ensemble with a language model" "--ensemble is for classifiers" \
    $RNN eval "$T/run/model.safetensors" --ensemble "$T/cls/model.safetensors" --data "$T/text.txt"
expect_error "--ensemble with other classes" "must be a classifier with a tokenizer and the classes" \
    $RNN eval "$T/cls/model.safetensors" --ensemble "$T/run/model.safetensors" --data "$T/cls.tsv"
expect_error "--ensemble with a missing checkpoint" "none.safetensors" \
    $RNN eval "$T/cls/model.safetensors" --ensemble "$T/none.safetensors" --data "$T/cls.tsv"
cut -f2 "$T/cls.tsv" | $RNN classify "$T/cls/model.safetensors" --ensemble "$T/clsens/model.safetensors" --json >"$T/ens_ab"
check "classify --ensemble prints the mean of the two models' probabilities" "python3 -c '
import json, sys
rows = [[json.loads(l) for l in open(f)] for f in sys.argv[1:4]]
ok = len(rows[0]) == len(rows[1]) == len(rows[2]) > 0
for a, b, m in zip(*rows):
    mean = [(x + y) / 2 for x, y in zip(a[\"probabilities\"], b[\"probabilities\"])]
    ok = ok and all(abs(x - y) < 2e-6 for x, y in zip(mean, m[\"probabilities\"]))
sys.exit(0 if ok else 1)
' '$T/ens_a' '$T/ens_b' '$T/ens_ab'"
expect_error "classify --ensemble with --attention" "not with --ensemble" \
    $RNN classify "$T/cls/model.safetensors" --attention --ensemble "$T/cls/model.safetensors" "a text"
expect_error "an empty name in --ensemble" "an empty checkpoint name" \
    $RNN classify "$T/cls/model.safetensors" --ensemble "$T/cls/model.safetensors,," "a text"
printf 'ok text\n\xff bad\n' | $RNN classify "$T/cls/model.safetensors" --ensemble "$T/clsens/model.safetensors" >"$T/out" 2>"$T/err"
check "classify --ensemble: invalid UTF-8 stops with exit 1 after the good line, naming the model" \
    "[ \$? -eq 1 ] && [ \$(wc -l <'$T/out') -eq 1 ] && grep -q 'classify: .*cls/model.safetensors: .*UTF-8' '$T/err'"
expect_error "classify --ensemble with other classes" "must be a classifier with a tokenizer and the classes" \
    $RNN classify "$T/cls/model.safetensors" --ensemble "$T/run/model.safetensors" "a text"
if py_torch; then
    # tools/rnnc_torch.py tokenizes char and byte models: train a char classifier for this check.
    $RNN train $cls --tokenizer char --steps 20 --out "$T/clschar" >/dev/null 2>&1
    c_out=$($RNN classify "$T/clschar/model.safetensors" --json "Who invented the telephone ?" | sed -E 's/.*probabilities": \[([^]]*)\].*/\1/')
    p_out=$(/usr/bin/python3 tools/rnnc_torch.py classify "$T/clschar/model.safetensors" "Who invented the telephone ?" 2>/dev/null | sed -E 's/.*probabilities": \[([^]]*)\].*/\1/')
    check "PyTorch loads an rnn.c classifier: same probabilities" \
        "/usr/bin/python3 -c 'import sys; a=[float(x) for x in sys.argv[1].split(\",\")]; b=[float(x) for x in sys.argv[2].split(\",\")]; sys.exit(max(abs(x-y) for x,y in zip(a,b)) > 1e-4)' '$c_out' '$p_out'"
fi
printf 'pos\tfine\nneg\n' >"$T/badcols.tsv"
expect_error "data row without a text column names file:line" "badcols.tsv:2" $RNN train --task classify --data "$T/badcols.tsv" --out "$T/x4"
printf 'NUM\tHow many ?\nzzz\tunknown label text\n' >"$T/badlabel.tsv"
expect_error "eval with an unknown label names file:line" "badlabel.tsv:2" $RNN eval "$T/cls/model.safetensors" --data "$T/badlabel.tsv"
expect_error "classify with a language model" "not a classifier" $RNN classify "$T/run/model.safetensors" "text"
# bad bytes in classification data are reported where they are: file and line
{ head -n 40 "$T/cls.tsv"; printf 'NUM\tHow \xff many ?\n'; } >"$T/badtext.tsv"
expect_error "invalid UTF-8 in a text names file:line" "badtext.tsv:41: invalid UTF-8 at byte offset 4 of the text" \
    $RNN train $cls --data "$T/badtext.tsv" --steps 1 --out "$T/x4"
expect_error "eval: invalid UTF-8 in a text names file:line" "badtext.tsv:41: invalid UTF-8" \
    $RNN eval "$T/cls/model.safetensors" --data "$T/badtext.tsv"
$RNN train $cls --data "$T/badtext.tsv" --tokenizer byte --steps 1 --out "$T/xbyte" >/dev/null 2>&1
check "the byte tokenizer takes any bytes" "[ \$? -eq 0 ]"
{ printf 'N\xffM\tHow many ?\n'; head -n 40 "$T/cls.tsv"; } >"$T/badlab8.tsv"
expect_error "a label of invalid UTF-8 names file:line" "badlab8.tsv:1: the label is not valid UTF-8" \
    $RNN train $cls --data "$T/badlab8.tsv" --steps 1 --out "$T/x4"
printf '1\tx y\n2\tz w\n3\tq r\n' >"$T/num.tsv"
printf 'a\nb\na\n' >"$T/dupnames.txt"
expect_error "a class name twice in --label-names" "dupnames.txt:3: class name \"a\" repeats line 1" \
    $RNN train --task classify --data "$T/num.tsv" --label-names "$T/dupnames.txt" --steps 1 --out "$T/x4"
# --label-names numbering: --val follows the training data's; a file whose labels fit both is refused
for i in $(seq 1 40); do printf '0\tawful bad %d\n1\tgood great %d\n2\tokay average %d\n' $i $i $i; done >"$T/lb0.tsv"
grep -v '^0' "$T/lb0.tsv" >"$T/lb12.tsv"
printf 'neg\npos\nneu\n' >"$T/lbnames.txt"
lbo="--task classify --label-names $T/lbnames.txt --layers 1 --hidden 8 --embed 8 --batch 16 --threads 1 --progress quiet"
$RNN train $lbo --data "$T/lb0.tsv" --val "$T/lb12.tsv" --epochs 8 --out "$T/lb" >/dev/null 2>&1
a1=$($RNN eval "$T/lb/model.safetensors" --data "$T/lb12.tsv" --label-names "$T/lbnames.txt" --label-base 0 --json | sed -E 's/.*"accuracy": ([0-9.]+).*/\1/')
a2=$(tail -n 1 "$T/lb/metrics.csv" | cut -d, -f6)
check "--val numbers its labels as the training data do (validation $a2 = eval --label-base 0 $a1)" \
    "[ -n '$a1' ] && awk -v a=$a1 -v b=$a2 'BEGIN { exit !(a > 0.9 && (a - b) ^ 2 < 1e-8) }'"
check "--progress quiet: train.log still gets the step lines" "grep -q '^step 50 epoch [0-9]* loss ' '$T/lb/train.log'"
# the model keeps its numbering (metadata label_base): rnn eval reads integer labels so, names file or not
a3=$($RNN eval "$T/lb/model.safetensors" --data "$T/lb12.tsv" --json | sed -E 's/.*"accuracy": ([0-9.]+).*/\1/')
a4=$($RNN eval "$T/lb/model.safetensors" --data "$T/lb12.tsv" --label-names "$T/lbnames.txt" --json | sed -E 's/.*"accuracy": ([0-9.]+).*/\1/')
check "eval numbers integer labels as training did, without --label-names ($a3) and with ($a4)" \
    "[ '$a3' = '$a1' ] && [ '$a4' = '$a1' ] && head -c 65536 '$T/lb/model.safetensors' | grep -aq '\"label_base\":\"0\"'"
{ cat "$T/lb0.tsv"; printf -- '-1\tugly\n'; } >"$T/lbneg.tsv"
expect_error "a negative label is named as the error, not label 0 of line 1" "lbneg.tsv:121: label -1 has no name in .*lbnames.txt (3 names, labels 0-based)" \
    $RNN train $lbo --data "$T/lbneg.tsv" --steps 1 --out "$T/x21"
# an integer label is its value ("01", "+1" and "1" are one class); names may stand for integers
for i in $(seq 1 10); do printf '1\tgood film\n01\tfine film\n+1\tnice film\n2\tbad film\n'; done >"$T/int01.tsv"
$RNN train --task classify --data "$T/int01.tsv" --layers 1 --hidden 8 --embed 8 --steps 1 --threads 1 --out "$T/int01" >"$T/int01.log" 2>&1
check "integer labels are classes by value" "grep -q 'classes (2): 1, 2' '$T/int01.log'"
{ printf 'neg\tawful bad 1\npos\tgood great 1\n'; printf '2\tokay average 1\n'; } >"$T/lbnamed.tsv"
printf ' neg \npos\nneu\n' >"$T/lbnames_sp.txt"
$RNN train $lbo --data "$T/lb0.tsv" --val "$T/lbnamed.tsv" --steps 1 --out "$T/lbn" >/dev/null 2>"$T/err"
check "--val with --label-names takes the names as labels too, and names are trimmed" \
    "[ -s '$T/lbn/model.safetensors' ] && $RNN train \${lbo/lbnames.txt/lbnames_sp.txt} --data '$T/lb0.tsv' --steps 1 --out '$T/lbn2' >/dev/null 2>&1 && $RNN info '$T/lbn2/model.safetensors' | grep -q 'classes: neg pos neu$'"
for i in $(seq 1 10); do printf 'pos,good film\rneg,bad film\r'; done >"$T/cr.csv"
expect_error "a CSV with old Mac line endings is refused, not read as one row" "cr.csv: its lines end in a carriage return alone" \
    $RNN eval "$T/lb/model.safetensors" --data "$T/cr.csv"
printf '{"text": "good", "label": "neg"}\n{"text": "bad", "label": "pos"}\n' >"$T/h.jsonl"
expect_error "--header on JSON lines" "h.jsonl: --header applies to tsv and csv only (format jsonl)" \
    $RNN train --task classify --data "$T/h.jsonl" --header yes --steps 1 --out "$T/x22"
expect_error "--lr past a float's range" "option --lr: '1e39' is out of a float's range" $RNN train $small --lr 1e39 --steps 1 --out "$T/x22"
for c in $(seq 1 41); do printf 'c%d\tword%d here\nc%d\tword%d there\n' $c $c $c $c; done >"$T/c41.tsv"
$RNN train --task classify --data "$T/c41.tsv" --val "$T/c41.tsv" --layers 1 --hidden 8 --embed 8 --steps 1 --threads 1 --out "$T/c41" >/dev/null 2>&1
out=$($RNN eval "$T/c41/model.safetensors" --data "$T/c41.tsv")
check "41 classes: the confusion matrix is not printed, and --json has it" \
    "printf '%s' '$out' | grep -q 'confusion: 41 classes, too many to print' && [ \$(printf '%s\n' '$out' | wc -l) -eq 2 ] && $RNN eval '$T/c41/model.safetensors' --data '$T/c41.tsv' --json | grep -q '\"confusion\": \[\['"
printf '3\tokay\n' >"$T/lb3.tsv"
expect_error "an integer label past the model's classes" "lb3.tsv:1: label 3 names none of the 3 classes, labels 0-2 (neg, pos, neu)" \
    $RNN eval "$T/lb/model.safetensors" --data "$T/lb3.tsv"
expect_error "labels that fit 0- and 1-based names are refused with --label-base auto" "lb12.tsv: labels 1-2 could name the 3 classes of .*--label-base 0|1" \
    $RNN eval "$T/lb/model.safetensors" --data "$T/lb12.tsv" --label-names "$T/lbnames.txt" --label-base auto
expect_error "eval --label-base 2" "--label-base '2' must be a number in \[0, 1\]" \
    $RNN eval "$T/lb/model.safetensors" --data "$T/lb12.tsv" --label-names "$T/lbnames.txt" --label-base 2
$RNN eval "$T/lb/model.safetensors" --data "$T/lb12.tsv" --label-names "$T/lbnames.txt" --label-base 0 --label-col 0 >/dev/null 2>&1
check "eval --label-col 0 is auto, as in train" "[ \$? -eq 0 ]"
expect_error "eval --label-base auto: the file alone decides" "labels 1-2 could name" \
    $RNN eval "$T/lb/model.safetensors" --data "$T/lb12.tsv" --label-names "$T/lbnames.txt" --label-base auto
expect_error "train --label-base without --label-names" "--label-base 1 numbers the classes of --label-names: give both" \
    $RNN train --task classify --data "$T/lb0.tsv" --label-base 1 --steps 1 --out "$T/x20"
expect_error "eval --label-col abc" "--label-col 'abc' must be" $RNN eval "$T/lb/model.safetensors" --data "$T/lb12.tsv" --label-col abc
expect_error "--label-names on a language model" "--label-names .*lbnames.txt is for classifiers (--task classify)" \
    $RNN train --data "$T/text.txt" --label-names "$T/lbnames.txt" --steps 1 --out "$T/x14"
expect_error "--seq-len on a classifier" "--seq-len 10 is for language models (--task lm)" $RNN train $lbo --data "$T/lb0.tsv" --seq-len 10 --steps 1 --out "$T/x15"
# A first row that looks like column names is skipped, and said; --header no keeps it as data
{ printf 'rare\tgreat film\n'; for i in $(seq 1 30); do printf 'pos\tgood film %d\nneg\tbad film %d\n' $i $i; done; } >"$T/hd.tsv"
hdo="--task classify --data $T/hd.tsv --layers 1 --hidden 8 --embed 8 --steps 2 --threads 1"
$RNN train $hdo --out "$T/hd1" >"$T/hdlog" 2>&1
check "a guessed header row is named in the log" "grep -q 'note: .*hd.tsv:1 looks like a header row and is skipped (--header no' '$T/hdlog' && grep -q 'classes (2): neg, pos' '$T/hdlog'"
$RNN train $hdo --header no --out "$T/hd2" >"$T/hdlog" 2>&1
check "--header no reads the first row as data" "grep -q 'classes (3): neg, pos, rare' '$T/hdlog' && ! grep -q 'looks like a header' '$T/hdlog'"
$RNN eval "$T/hd1/model.safetensors" --data "$T/hd.tsv" >/dev/null 2>"$T/err"
check "eval names a guessed header row too" "[ \$? -eq 0 ] && grep -q 'note: .*hd.tsv:1 looks like a header' '$T/err'"
expect_error "eval --header no: the row's label is then unknown" "hd.tsv:1: label \"rare\" is not one of the 2 known labels" \
    $RNN eval "$T/hd1/model.safetensors" --data "$T/hd.tsv" --header no
expect_error "an empty validation split says why (every class too small)" "lb0.tsv: the validation split is empty: --val-frac 0.1 of each class's examples rounds to 0 (120 classes, the largest with 1)" \
    $RNN train --task classify --data "$T/lb0.tsv" --label-col 2 --text-col 1 --steps 1 --out "$T/x18"
printf 'tiny val\n' >"$T/tinyval.txt"
expect_error "an LM's --val too short for its streams names the file" "tinyval.txt: validation text has 9 tokens; its 32 streams (--batch) need at least 64" \
    $RNN train --data "$T/text.txt" --val "$T/tinyval.txt" --steps 1 --out "$T/x19"
: >"$T/empty.vocab"
$RNN train --task classify --data "$T/lb0.tsv" --tokenizer "wordpiece:$T/empty.vocab" --steps 1 --out "$T/x17" 2>"$T/err"
check "a wordpiece vocabulary's error names only the vocabulary" "grep -qx 'rnn: $T/empty.vocab: empty vocabulary file' '$T/err'"
expect_error "--min-count 0 names the flag" "--min-count must be at least 1 (got 0)" $RNN train --data "$T/text.txt" --tokenizer word --min-count 0 --steps 1 --out "$T/x17"
expect_error "--max-vocab with the byte tokenizer (it was ignored)" "--max-vocab is for the char and word tokenizers" \
    $RNN train --data "$T/text.txt" --tokenizer byte --max-vocab 10 --steps 1 --out "$T/x17"
printf 'a\n\xff\n' >"$T/badnames.txt"
expect_error "a class name of invalid UTF-8" "badnames.txt:2: the class name is not valid UTF-8" \
    $RNN train --task classify --data "$T/num.tsv" --label-names "$T/badnames.txt" --steps 1 --out "$T/x4"
printf 'a\nb\000c\n' >"$T/nulnames.txt"
expect_error "a class name with a NUL byte says so" "nulnames.txt:2: the class name holds a NUL byte" \
    $RNN train --task classify --data "$T/num.tsv" --label-names "$T/nulnames.txt" --steps 1 --out "$T/x4"
# control characters in class names are refused as training reads them (the checkpoint could not be loaded)
printf 'a\nb\033[31m\n' >"$T/escnames.txt"
expect_error "a class name with a terminal escape" "escnames.txt:2: the class name holds a control character" \
    $RNN train --task classify --data "$T/num.tsv" --label-names "$T/escnames.txt" --steps 1 --out "$T/x4"
for i in $(seq 1 10); do printf 'pos\001\tgood movie\nneg\tbad movie\n'; done >"$T/ctl.tsv"
expect_error "a label with a control character" "ctl.tsv:1: the label holds a control character" \
    $RNN train --task classify --data "$T/ctl.tsv" --steps 1 --out "$T/x4"
check "... and leaves no run behind" "[ ! -e '$T/x4/model.safetensors' ]"
expect_error "--label-names /dev/zero stops at its first NUL byte" "/dev/zero:1: the class name holds a NUL byte" \
    timeout 20 $RNN train --task classify --data "$T/num.tsv" --label-names /dev/zero --steps 1 --out "$T/x4"
# results that cannot be written are an error, not a silent success (/dev/full: "No space left")
if [ -w /dev/full ]; then
    expect_error "eval to a full disk" "eval: write error on standard output: No space left on device" \
        sh -c "$RNN eval '$T/run/model.safetensors' --data '$T/text.txt' >/dev/full"
    expect_error "info to a full disk" "info: write error on standard output" sh -c "$RNN info '$T/run/model.safetensors' --json >/dev/full"
    expect_error "rnn --help to a full disk" "help: write error on standard output" sh -c "$RNN --help >/dev/full"
fi
expect_error "--stop of invalid UTF-8 could never match: refused" "--stop is not valid UTF-8 (at byte offset 1)" \
    $RNN sample "$T/run/model.safetensors" --stop $'a\xff' --length 5
expect_error "--prime-file /dev/zero stops at its first NUL byte" "input has a NUL byte at byte offset 0" \
    timeout 20 $RNN sample "$T/run/model.safetensors" --prime-file /dev/zero
printf 'ok text\nfine\nx \xff y\n' | $RNN classify "$T/cls/model.safetensors" >"$T/out" 2>"$T/err"
check "classify names the stdin line of invalid UTF-8 (and no second line number)" "[ \$? -eq 1 ] && grep -q 'classify: stdin line 3: input has invalid UTF-8 at byte offset 2\$' '$T/err'"
printf 'one text\n\nanother\n' | $RNN classify "$T/cls/model.safetensors" >"$T/out" 2>"$T/err"
check "classify keeps an empty stdin line's output line and warns, naming it" \
    "[ \$? -eq 0 ] && [ \$(wc -l <'$T/out') -eq 3 ] && grep -q 'classify: warning: stdin line 2: no tokens in the text; read as one <unk>' '$T/err'"
a=$($RNN classify "$T/cls/model.safetensors" --json "" 2>/dev/null); b=$($RNN classify "$T/cls/model.safetensors" --json "qqzzxxunseenword" 2>/dev/null)
check "an empty text is classified as one <unk>, as an unseen word is" "[ -n '$a' ] && [ '$a' = '$b' ]"
lab=$(head -n 1 "$T/cls.tsv" | cut -f1); { cat "$T/cls.tsv"; printf '%s\t\n%s\t   \n' "$lab" "$lab"; } >"$T/cls_empty.tsv"
$RNN eval "$T/cls/model.safetensors" --data "$T/cls_empty.tsv" >/dev/null 2>"$T/err"
check "eval counts the texts with no tokens in a warning" "[ \$? -eq 0 ] && grep -q 'warning: .*cls_empty.tsv: 2 of [0-9]* texts have no tokens' '$T/err'"
printf 'abc\0def\n' | $RNN classify "$T/cls/model.safetensors" >"$T/out" 2>"$T/err"
check "classify refuses a NUL byte rather than cutting the text there" "[ \$? -eq 1 ] && grep -q 'NUL byte at byte offset 3' '$T/err'"
# --- rnn classify reads stdin in blocks through the batched forward pass (as rnn eval does) and
# prints in input order: the oracle is one text per run (batch 1), equal up to the float rounding
# of a batch's products; the arguments of one run go through the same blocks, so equal exactly
cut -f2 "$T/ascii.tsv" | head -n 40 | awk 'NR == 13 { print "" } { print }' >"$T/blk.txt" # line 13 empty
jclose() { # jclose A B TOL: the --json lines of A and B name the same labels, probabilities within TOL
    python3 -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]; b = [json.loads(l) for l in open(sys.argv[2])]
ok = len(a) == len(b) > 0
for x, y in zip(a, b):
    ok = ok and x["label"] == y["label"] and len(x["probabilities"]) == len(y["probabilities"])
    ok = ok and all(abs(p - q) <= float(sys.argv[3]) for p, q in zip(x["probabilities"], y["probabilities"]))
sys.exit(0 if ok else 1)' "$@"
}
$RNN classify "$T/cls/model.safetensors" --json <"$T/blk.txt" >"$T/blk.out" 2>"$T/blk.err"; rc=$?
while IFS= read -r l; do $RNN classify "$T/cls/model.safetensors" --json -- "$l" 2>/dev/null; done <"$T/blk.txt" >"$T/blk1.out"
check "classify of 41 piped lines: each line's label and probabilities as classified alone (batch 1), in input order" \
    "[ $rc -eq 0 ] && [ \$(wc -l <'$T/blk.out') -eq 41 ] && jclose '$T/blk.out' '$T/blk1.out' 1e-6"
check "... and the empty line keeps its output line and its warning" \
    "[ \$(grep -c . '$T/blk.err') -eq 1 ] && grep -q 'classify: warning: stdin line 13: no tokens in the text; read as one <unk>' '$T/blk.err'"
mapfile -t blk <"$T/blk.txt"
$RNN classify "$T/cls/model.safetensors" --json -- "${blk[@]}" >"$T/blka.out" 2>"$T/blka.err"
check "classify of the same 41 texts as arguments prints the same, byte for byte, and names the empty one text 13" \
    "cmp -s '$T/blk.out' '$T/blka.out' && grep -q 'classify: warning: text 13: no tokens' '$T/blka.err'"
$RNN classify "$T/cls/model.safetensors" <"$T/blk.txt" 2>/dev/null | cut -f1 >"$T/blkp.out"
python3 -c 'import json, sys; print("\n".join(json.loads(l)["label"] for l in open(sys.argv[1])))' "$T/blk1.out" >"$T/blkp1.out"
check "classify's plain lines name the labels of --json's, in order" "cmp -s '$T/blkp.out' '$T/blkp1.out'"
# --ensemble with the char model cut to its last 12: each member batched on its own tokens
$RNN classify "$T/cls/model.safetensors" --ensemble "$T/cut/model.safetensors" --json <"$T/blk.txt" >"$T/blke.out" 2>"$T/blke.err"
while IFS= read -r l; do $RNN classify "$T/cls/model.safetensors" --ensemble "$T/cut/model.safetensors" --json -- "$l" 2>/dev/null
done <"$T/blk.txt" >"$T/blke1.out"
n=$(awk 'length($0) > 12' "$T/blk.txt" | wc -l)
check "classify --ensemble of piped lines: each line's mean as classified alone, and the note counts the cut lines ($n)" \
    "jclose '$T/blke.out' '$T/blke1.out' 1e-6 && grep -q 'of 41 texts, the models cut 0, $n ' '$T/blke.err'"
# invalid UTF-8 in the middle of a block: the lines before it are printed, then its error
awk 'NR == 21 { printf "x \377 y\n" } { print }' "$T/blk.txt" >"$T/blkbad.txt"
$RNN classify "$T/cls/model.safetensors" --json <"$T/blkbad.txt" >"$T/out" 2>"$T/err"; rc=$?
head -n 20 "$T/blk1.out" >"$T/blk20.out"
check "classify: invalid UTF-8 on line 21 of a block prints lines 1-20 as classified alone, then names line 21 (exit 1)" \
    "[ $rc -eq 1 ] && jclose '$T/out' '$T/blk20.out' 1e-6 && [ \"\$(tail -n 1 '$T/err')\" = 'rnn classify: stdin line 21: input has invalid UTF-8 at byte offset 2' ]"
# with texts cut before it (the char model keeps 12 tokens), the note on them comes first: the error stays last
$RNN classify "$T/cut/model.safetensors" <"$T/blkbad.txt" >/dev/null 2>"$T/err"; rc=$?
check "classify: the note on cut texts comes before the bad line's error, which is the last line" \
    "[ $rc -eq 1 ] && grep -q 'note: stdin: [0-9]* of 20 texts are longer than 12' '$T/err' && [ \"\$(tail -n 1 '$T/err')\" = 'rnn classify: stdin line 21: input has invalid UTF-8 at byte offset 2' ]"
# more than one block (256 lines): in order across them, against the same texts in runs of 50
cut -f2 "$T/cls.tsv" | head -n 600 >"$T/many.txt"
$RNN classify "$T/cls/model.safetensors" --json <"$T/many.txt" >"$T/many.out"
split -l 50 "$T/many.txt" "$T/many_"
for f in "$T"/many_*; do $RNN classify "$T/cls/model.safetensors" --json <"$f"; done >"$T/many50.out"
check "classify of 600 piped lines (3 blocks) matches runs of 50 lines, line by line" \
    "[ \$(wc -l <'$T/many.out') -eq 600 ] && jclose '$T/many.out' '$T/many50.out' 1e-6"
# lines that came in one burst down a pipe still held open are read in full blocks: stdio's
# read-ahead counts as input that is there (the pipe itself is empty by then)
{ cat "$T/many.txt"; sleep 1; } | { sleep 0.3; $RNN classify "$T/cls/model.safetensors" --json; } >"$T/many_held.out"
check "classify reads a burst of lines from a held-open pipe in the blocks a file gives" \
    "cmp -s '$T/many.out' '$T/many_held.out'"
# a program that writes a line and waits for its answer gets it: a block does not wait for 256 lines
coproc CLS { exec $RNN classify "$T/cls/model.safetensors" --json 2>/dev/null; }
for i in 0 1; do
    echo "${blk[$i]}" >&"${CLS[1]}" && IFS= read -r -t 30 a <&"${CLS[0]}" && printf '%s\n' "$a"
done >"$T/co.out"
kill "$CLS_PID" 2>/dev/null; wait "$CLS_PID" 2>/dev/null
check "classify answers each line of a pipe whose writer waits for the answer" \
    "head -n 2 '$T/blk1.out' | cmp -s - '$T/co.out'"

# --- classification files as people make them (the data-formats review's cases)
D="$T/dfmt"; mkdir -p "$D"
da="--task classify --layers 1 --hidden 8 --embed 8 --steps 1 --threads 1 --progress log --overwrite"
printf 'pos\tgood fun film\tsrc1\nneg\tbad\tboring slow film\tsrc2\npos\tnice warm film\tsrc3\nneg\tdull grey film\tsrc4\n' >"$D/d1.tsv"
expect_error "TSV: a tab in a text another column follows is refused (it read a shifted column)" \
    "d1.tsv:2: 4 tab-separated fields where the first row has 3" $RNN train $da --data "$D/d1.tsv" --text-col 2 --out "$D/r"
printf 'pos\tgood fun film\t\nneg\tbad boring film\t\npos\tnice warm film\t\nneg\tdull grey film\t\n' >"$D/d2.tsv"
expect_error "TSV: a tab ending every line (every text empty) is named" "d2.tsv: every text (column 3) is empty: a tab at the end of each line" \
    $RNN train $da --data "$T/cls.tsv" --val "$D/d2.tsv" --out "$D/r"
# a header of two columns above rows of three: the rows' columns count, whether the header is guessed or said
printf 'label\ttext\npos\t7\tgood fun film\nneg\t2\tbad boring film\npos\t9\tnice warm film\nneg\t1\tdull grey film\n' >"$D/d3a.tsv"
$RNN train $da --data "$D/d3a.tsv" --val "$D/d3a.tsv" --out "$D/r3a" >/dev/null 2>&1
a=$($RNN eval "$D/r3a/model.safetensors" --data "$D/d3a.tsv" --json 2>/dev/null | grep -o '"tokens": [0-9]*')
b=$($RNN eval "$D/r3a/model.safetensors" --data "$D/d3a.tsv" --header yes --json 2>/dev/null | grep -o '"tokens": [0-9]*')
check "a guessed header of fewer columns than its rows: the text is the rows' last column, as with --header yes ($a; $b)" \
    "[ '$a' = '\"tokens\": 12' ] && [ '$a' = '$b' ]"
printf 'label,text\npos,"a fine film, really"\nneg,"a dull one, sadly"\npos,"great, great"\nneg,"poor, weak"\n' >"$D/p1.csv"
cat "$D/p1.csv" "$D/p1.csv" >"$D/both.csv"
$RNN train $da --data "$D/both.csv" --val "$D/p1.csv" --out "$D/r3" >"$D/log3" 2>&1
check "CSV files with headers joined: the header and its repeat are skipped, said, and no class \"label\"" \
    "grep -q 'both.csv:1 looks like a header row and is skipped, and 1 more lines just like it' '$D/log3' && grep -q '^classes (2): neg, pos' '$D/log3'"
printf 'label\ttext\npos\tgood film\nneg\tbad film\n' >"$D/h1.tsv"; cat "$D/h1.tsv" "$D/h1.tsv" >"$D/h2.tsv"
for f in both.csv h2.tsv; do
    $RNN train $da --data "$D/$f" --header yes --val "$D/p1.csv" --out "$D/rh" >"$D/logh" 2>&1
    check "--header yes on joined files ($f): the header's repeats are skipped too, and said" \
        "grep -q '$f: 1 more lines just like its header are skipped (files joined)' '$D/logh' && grep -q '^classes (2): neg, pos' '$D/logh'"
done
printf 'Label\tReview Text (raw)\npos\tgood fun film\nneg\tbad boring film\npos\tnice\nneg\tdull\n' >"$D/d3.tsv"
$RNN train $da --data "$D/d3.tsv" --val "$D/d3.tsv" --out "$D/r4" >"$D/log4" 2>&1
check "a first row kept whose label no other row has is named (a header?)" \
    "grep -q 'd3.tsv:1 is read as an example, of a class no other line has (a header? --header yes skips it)' '$D/log4'"
{ printf 'pos\tgood fun film\nneg\tbad boring film\n'; printf '\xef\xbb\xbfpos\tfine film\nneg\xc2\xa0\tdull film\n'; } >"$D/d5.tsv"
$RNN train $da --data "$D/d5.tsv" --val "$D/d5.tsv" --out "$D/r5" >"$D/log5" 2>&1
check "a byte order mark or no-break space at a label's edge makes no class of its own" "grep -q '^classes (2): neg, pos$' '$D/log5'"
(for i in $(seq 10); do printf 'pos\tgood film %d\nneg\tbad film %d\n' $i $i; done; printf 'neutral\tokay film ok\n') >"$D/d6.tsv"
$RNN train $da --data "$D/d6.tsv" --val-frac 0.5 --out "$D/r6" >"$D/log6" 2>&1
check "--val-frac keeps a class's only example in training" "grep -q '11 train / 10 val examples' '$D/log6'"
mkdir -p "$D/dd/pos" "$D/dd/neg"; echo "good fun film" >"$D/dd/pos/1.txt"; echo "bad boring film" >"$D/dd/neg/1.txt"
ln -s ../neg/1.txt "$D/dd/pos/2.txt"
expect_error "a directory's file link into another class is refused" "dd/pos/2.txt: a link to .*dd/neg/1.txt, a file of another class's directory" \
    $RNN train $da --data "$D/dd" --out "$D/r7"
rm "$D/dd/pos/2.txt"; mkdir -p "$D/dd/neg/sub"; echo "dull grey film" >"$D/dd/neg/sub/1.txt"; ln -s ../neg/sub "$D/dd/pos/linked"
expect_error "a folder link into another class is refused" "dd/pos/linked/1.txt: a link to .*dd/neg/sub/1.txt" \
    $RNN train $da --data "$D/dd" --out "$D/r7"
rm "$D/dd/pos/linked"; ln -s neg "$D/dd/bad"
expect_error "a class directory that is another one is refused" "the same directory as class" $RNN train $da --data "$D/dd" --out "$D/r7"
cp "$D/d6.tsv" "$D/sp.tsv "
expect_error "a path with a space at its end (config.txt trims values) is refused" "option --data: \".*sp.tsv \" begins or ends with a space" \
    $RNN train $da --data "$D/sp.tsv " --out "$D/r8"
printf 'task = classify\nbidirectional\nlayers = 1\nhidden = 8\nembed = 8\n' >"$D/flag.cfg"
$RNN train --config "$D/flag.cfg" --data "$D/d6.tsv" --steps 1 --threads 1 --progress quiet --out "$D/r9" >/dev/null 2>&1
check "a flag alone in a config file is on" "grep -qx 'bidirectional = true' '$D/r9/config.txt'"
printf 'hidden\n' >"$D/noval.cfg"
expect_error "an option alone that takes a value says so" "noval.cfg:1: expected 'hidden = VALUE'" $RNN train --config "$D/noval.cfg" --out "$D/r10"

# rnn eval reads a file with the columns the model's training read (--text-col 2 here), unless told otherwise
awk 'BEGIN { srand(1); for (i = 0; i < 120; i++) { a = i % 2 ? "great" : "awful"; printf "%s\t%s film\t%s site\n", i % 2 ? "pos" : "neg", a, i % 3 ? "nice" : "bad" } }' >"$D/d7.tsv"
$RNN train --task classify --layers 1 --hidden 8 --embed 8 --epochs 15 --threads 1 --progress quiet --data "$D/d7.tsv" --text-col 2 --out "$D/r11" >/dev/null 2>&1
a=$($RNN eval "$D/r11/model.safetensors" --data "$D/d7.tsv" --json 2>"$D/note11" | grep -o '"accuracy": [0-9.]*')
b=$($RNN eval "$D/r11/model.safetensors" --data "$D/d7.tsv" --text-col 2 --json 2>/dev/null | grep -o '"accuracy": [0-9.]*')
c3=$($RNN eval "$D/r11/model.safetensors" --data "$D/d7.tsv" --text-col 3 --json 2>/dev/null | grep -o '"accuracy": [0-9.]*')
check "rnn eval reads the training's columns (--text-col 2) unless told, and says so ($a; $b; column 3: $c3)" \
    "[ -n '$a' ] && [ '$a' = '$b' ] && [ '$a' != '$c3' ] && grep -q 'note: .*d7.tsv is read as the model.s training data was: --format auto --header auto --label-col 1 --text-col 2' '$D/note11'"
# --text-col as people type it ("2, 3") is kept as the loader reads it; a JSON lines model keeps no columns
awk 'BEGIN { for (i = 0; i < 40; i++) printf "%s\t%s film\tand %s\n", i % 2 ? "pos" : "neg", i % 2 ? "great" : "awful", i % 3 ? "more" : "so" }' >"$D/c3.tsv"
$RNN train $da --data "$D/c3.tsv" --text-col "2, 3" --out "$D/r12" >/dev/null 2>&1
check "a model trained with --text-col \"2, 3\" loads, keeping \"2,3\"" "$RNN info '$D/r12/model.safetensors' | grep -q -- '--text-col 2,3, as trained'"
awk 'BEGIN { for (i = 0; i < 40; i++) printf "{\"text\": \"%s film\", \"label\": \"%s\\u00a0\"}\n", i % 2 ? "great" : "awful", i % 2 ? "pos" : "neg" }' >"$D/d.jsonl"
$RNN train $da --data "$D/d.jsonl" --format jsonl --out "$D/r13" >"$D/log13" 2>&1
check "a JSON lines classifier: a no-break space at a label's edge makes no class, and rnn eval reads the file again" \
    "grep -q '^classes (2): neg, pos$' '$D/log13' && $RNN eval '$D/r13/model.safetensors' --data '$D/d.jsonl' | grep -q '40 examples'"
check "a model trained on TSV columns evaluates a JSON lines file (its columns are no JSON's)" \
    "$RNN eval '$D/r12/model.safetensors' --data '$D/d.jsonl' 2>/dev/null | grep -q '40 examples'"
check "rnn info shows the data columns a classifier keeps" \
    "$RNN info '$D/r11/model.safetensors' | grep -q '^  data        --format auto --header auto --label-col 1 --text-col 2, as trained' && $RNN info '$D/r11/model.safetensors' --json | grep -q '\"data_layout\": {\"format\": \"auto\", \"header\": \"auto\", \"label_col\": 1, \"text_cols\": \"2\"}'"
python3 - "$D/r11/model.safetensors" "$D/badlayout.safetensors" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n])
h["__metadata__"]["data_layout"] = '{"format": "tsv", "header": "auto", "label_col": 0, "text_cols": "2"}'
b = json.dumps(h).encode(); b += b" " * (-len(b) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(b)) + b + d[8 + n:])
PY
expect_error "a damaged data_layout (label_col 0) is named" "badlayout.safetensors: metadata \"data_layout\" is not the columns rnn train writes" \
    $RNN eval "$D/badlayout.safetensors" --data "$D/d7.tsv"
# a config whose pool is not the model's names pool and loss; a key given twice (cJSON reads the first, Python the last)
python3 - "$D/r11/model.safetensors" "$D/lastpool.safetensors" "$D/twice.safetensors" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n])
def write(path, meta_config):
    h["__metadata__"]["config"] = meta_config
    b = json.dumps(h).encode(); b += b" " * (-len(b) % 8)
    open(path, "wb").write(struct.pack("<Q", len(b)) + b + d[8 + n:])
c = json.loads(h["__metadata__"]["config"]); raw = h["__metadata__"]["config"]
write(sys.argv[3], raw[:-1] + ', "pool": "' + c["pool"] + '"}')
c["pool"] = "last"; write(sys.argv[2], json.dumps(c))
PY
expect_error "a classifier's head that does not fit the config's pool says pool and loss" \
    "lastpool.safetensors: tensor 'head.weight' has shape .* where the config (pool last, loss ce, 2 classes, hidden 8) needs .*: a config whose \"pool\" or \"loss\" is not the model's" \
    $RNN info "$D/lastpool.safetensors"
expect_error "a config key given twice is refused" "config: the key \"pool\" is given twice" $RNN info "$D/twice.safetensors"
if py_torch; then
    out=$(/usr/bin/python3 tools/rnnc_torch.py classify "$D/twice.safetensors" "great film" 2>&1); rc=$?
    check "PyTorch's twin refuses a config key given twice too" "[ $rc -ne 0 ] && printf '%s' \"\$out\" | grep -q 'the key \"pool\" is given twice'"
fi

# --- pretrained vectors and transfer from a language model
# embedding_row_is MODEL WORD "1, 2, 3": the model's embedding row of WORD holds exactly these
embedding_row_is() {
    /usr/bin/python3 - "$@" <<'PY'
import json, sys
sys.path.insert(0, 'tests/ref'); import st
t, m = st.load(sys.argv[1]); vocab = json.loads(m['tokenizer'])['vocab']
want = [float(v) for v in sys.argv[3].split(',')]
sys.exit(not (list(t['embedding.weight'][vocab.index(sys.argv[2])]) == want))
PY
}
printf 'what 0.5 0.25 -1 2\nis 1 1 1 1\nnotaword 3 3 3 3\n' >"$T/vec.txt"
$RNN train $cls --embed 4 --vectors "$T/vec.txt" --freeze-embedding --steps 2 --out "$T/vec" >"$T/veclog" 2>&1
check "--vectors reports coverage" "grep -q 'vectors .*: 2 of [0-9]* vocabulary tokens covered' '$T/veclog'"
if py_torch; then
    check "--vectors rows land in the (frozen) embedding" "embedding_row_is '$T/vec/model.safetensors' what '0.5, 0.25, -1, 2'"
fi
# --embed defaults to the vectors' width (a word2vec "count width" header line too)
{ printf '3 4\n'; cat "$T/vec.txt"; } >"$T/w2v.txt"
$RNN train ${cls/--embed 16/} --vectors "$T/vec.txt" --steps 1 --out "$T/vecw" >"$T/veclog" 2>&1
$RNN train ${cls/--embed 16/} --vectors "$T/w2v.txt" --steps 1 --out "$T/vecw2" 2>/dev/null >/dev/null
check "--embed is the vectors' width unless given, and the run says so" \
    "grep -qx 'embed = 4' '$T/vecw/config.txt' && grep -qx 'embed = 4' '$T/vecw2/config.txt' && grep -q -- '--embed 4: the width of the vectors in .*vec.txt' '$T/veclog'"
awk 'BEGIN { printf "what"; for (i = 0; i < 70000; i++) printf " 0.5"; printf "\n" }' >"$T/vecwide.txt"
expect_error "vectors wider than any read without --embed (not a vectors file?)" \
    "vecwide.txt:1: over 65536 numbers after the word, more than the widest vectors read without --embed (give --embed to say the width)" \
    $RNN train ${cls/--embed 16 /} --vectors "$T/vecwide.txt" --steps 1 --out "$T/x5"
{ printf '\n'; printf 'what 3\nis 4\n'; } >"$T/vec1.txt" # a blank line first, then words of one number each
$RNN train ${cls/--embed 16/} --vectors "$T/vec1.txt" --steps 1 --out "$T/vecw1" >/dev/null 2>&1
check "vectors of width 1 after a blank line: --embed 1, as the reader reads them (not a header)" "grep -qx 'embed = 1' '$T/vecw1/config.txt'"
printf 'what\n' >"$T/novec.txt"
expect_error "vectors whose first line has no numbers" "novec.txt:1: no vector width here" $RNN train ${cls/--embed 16/} --vectors "$T/novec.txt" --steps 1 --out "$T/x"
# A word language model takes them too (they were ignored): its embedding starts from them.
cut -f2 "$T/cls.tsv" >"$T/vec_text.txt"
$RNN train --data "$T/vec_text.txt" --tokenizer word --layers 1 --hidden 8 --embed 4 --seq-len 8 --batch 4 --vectors "$T/vec.txt" --freeze-embedding --steps 2 --threads 1 --out "$T/veclm" >"$T/veclmlog" 2>&1
$RNN sample "$T/veclm/model.safetensors" --length 5 --stop "WHAT Is" >/dev/null 2>"$T/stopnote"
# a stop that begins in a capitalised prime: the prime's "T" as the model writes it, then the greedy next word
g=$($RNN sample "$T/veclm/model.safetensors" --prime "what" --length 1 --temperature 0 2>/dev/null); g=${g#what}
out=$($RNN sample "$T/veclm/model.safetensors" --prime "WHAT" --length 40 --temperature 0 --stop "T$g" 2>/dev/null)
check "--stop that begins in a capitalised prime ends the text where the model writes it (\"T$g\": $out)" "[ -n '$g' ] && [ \"\$out\" = 'WHAT$g' ]"
check "--stop is looked for as a lowercasing model writes it, and says so" "grep -qx 'rnn sample: note: --stop \"WHAT Is\" is looked for as \"what is\", as this model writes text' '$T/stopnote'"
check "--vectors initialise a word LM's embedding" "grep -q 'vectors .*: [1-9][0-9]* of [0-9]* vocabulary tokens covered' '$T/veclmlog'"
if py_torch; then
    check "--vectors rows land in a word LM's (frozen) embedding" "embedding_row_is '$T/veclm/model.safetensors' is '1, 1, 1, 1'"
fi
printf 'what 1 2 3 4\nwhat 5 5 5 5\nis 1 1 1 1\n' >"$T/dupvec.txt"
$RNN train $cls --embed 4 --vectors "$T/dupvec.txt" --steps 1 --out "$T/dupvec" >"$T/veclog" 2>&1
check "a word given twice counts once, the first kept, and is said" \
    "grep -q 'vectors .*: 2 of [0-9]* vocabulary tokens covered' '$T/veclog' && grep -q 'warning: .*dupvec.txt: 1 lines repeat a word of an earlier line; the first was used' '$T/veclog'"
printf 'what 0x10 1 1 1\n' >"$T/hexvec.txt"
expect_error "a hexadecimal vector value" "hexvec.txt:1: a hexadecimal number" $RNN train $cls --embed 4 --vectors "$T/hexvec.txt" --out "$T/x5"
printf '2 1\nwhat 0.5\nis 2\n' >"$T/w2v1.txt"
$RNN train $cls --embed 1 --vectors "$T/w2v1.txt" --steps 1 --out "$T/w2v1" >"$T/veclog" 2>&1
check "a word2vec header of width 1 is a header, not the word \"2\"" "grep -q 'vectors .*: 2 of [0-9]* vocabulary tokens covered' '$T/veclog'"
printf '\xef\xbb\xbf2 4\nwhat 1 2 3 4\n' >"$T/bomvec.txt"
$RNN train $cls --embed 4 --vectors "$T/bomvec.txt" --steps 1 --out "$T/bomvec" >"$T/veclog" 2>&1
check "a vectors file's byte order mark and word2vec header" "grep -q 'vectors .*: 1 of [0-9]* vocabulary tokens covered' '$T/veclog'"
printf 'what 1 2\n' >"$T/badvec.txt"
expect_error "vectors of the wrong width name file:line" "badvec.txt:1" $RNN train $cls --embed 4 --vectors "$T/badvec.txt" --out "$T/x5"
printf 'what 1 2 3 4\nis 1 nan 1 1\n' >"$T/nanvec.txt"
expect_error "a non-finite vector value names file:line" "nanvec.txt:2: number 2 is nan" \
    $RNN train $cls --embed 4 --vectors "$T/nanvec.txt" --out "$T/x5"
# GloVe 840B's words with spaces (". . ."), a tab after the word, CRLF: read; the numbers are the last --embed fields
printf 'is 1 1 1 1\r\n. . . 7 7 7 7\nwhat\t2 2 2 2\n' >"$T/spvec.txt"
$RNN train $cls --embed 4 --vectors "$T/spvec.txt" --freeze-embedding --steps 1 --out "$T/spvec" >"$T/veclog" 2>&1
check "a vectors line whose word has spaces, and a tab after a word, are read" "grep -q 'vectors .*: 2 of [0-9]* vocabulary tokens covered' '$T/veclog'"
if py_torch; then
    check "--vectors: the tab-separated word's row is its numbers" "embedding_row_is '$T/spvec/model.safetensors' what '2, 2, 2, 2'"
fi
printf 'what 1 2 3 4 5\n' >"$T/morevec.txt"
expect_error "a vectors line with more numbers than --embed" "morevec.txt:1: more than 4 numbers after the word" \
    $RNN train $cls --embed 4 --vectors "$T/morevec.txt" --out "$T/x5"
printf 'what 1 2 3\n' >"$T/fewvec.txt"
expect_error "a vectors line with fewer numbers than --embed says how many" "fewvec.txt:1: expected 4 numbers after the word, found 3" \
    $RNN train $cls --embed 4 --vectors "$T/fewvec.txt" --out "$T/x5"
printf 'what 0,5 1,5\n' >"$T/commavec.txt"
expect_error "decimal commas in vectors" "commavec.txt:1: \"0,5\" is not a number (a decimal comma?" \
    $RNN train ${cls/--embed 16/} --vectors "$T/commavec.txt" --out "$T/x5"
printf '10 8\nwhat 1 2 3 4 5 6 7 8\n' >"$T/hdrvec.txt"
expect_error "a word2vec header of another width than --embed says both" "hdrvec.txt:1: word2vec's header says the vectors have 8 numbers; --embed is 4" \
    $RNN train $cls --embed 4 --vectors "$T/hdrvec.txt" --out "$T/x5"
printf '2 4\nwhat \001\002\003\004\005\006\007\010\011\012' >"$T/binvec.txt"
expect_error "word2vec's binary format is named" "binvec.txt:2: control bytes, binary data: word2vec's binary format is not read" \
    $RNN train $cls --embed 4 --vectors "$T/binvec.txt" --out "$T/x5"
expect_error "--vectors for a language model's default char tokenizer" "--vectors .*vec.txt: this model's tokenizer is char (a language model's default); give --tokenizer word" \
    $RNN train --data "$T/vec_text.txt" --layers 1 --hidden 8 --vectors "$T/vec.txt" --steps 1 --out "$T/x5"
# rnn classify: a line too long for the memory (3M tokens under ulimit -v; not under ASan) fails
# alone, in a block of its own: the line before it is answered, and the error names it and --max-len
# (a bidirectional model pooled by attention holds its top layer's output for every token: 384 MB)
if ! ldd "$RNN" 2>/dev/null | grep -q libasan; then
    $RNN train $cls --pool attention --steps 1 --out "$T/clsatt" >/dev/null 2>&1
    awk 'BEGIN { printf "a fine film"; for (i = 0; i < 1000000; i++) printf " what is it"; printf "\n" }' >"$T/longline.txt"
    { echo "a fine film"; cat "$T/longline.txt"; echo "a fine film"; } | bash -c "ulimit -v 300000; exec $RNN classify '$T/clsatt/model.safetensors'" >"$T/long.out" 2>"$T/long.err"
    check "classify: a text too long for memory fails alone, named, after the lines before it are answered" \
        "[ \$(wc -l <'$T/long.out') -eq 1 ] && grep -qx 'rnn classify: stdin line 2: out of memory (a text of [0-9]* tokens; --max-len N cuts it)' '$T/long.err'"
    # the same layers pooled by meanmax (the --vectors run's model) pool the top layer a chunk at a
    # time (model.c, dir_forward): the text is read in the same 300 MB (146 MB)
    { echo "a fine film"; cat "$T/longline.txt"; echo "a fine film"; } | bash -c "ulimit -v 300000; exec $RNN classify '$T/vec/model.safetensors'" >"$T/long2.out" 2>"$T/long2.err"
    check "classify: a 3M-token text through a bidirectional model pooled by meanmax fits where attention's does not" \
        "[ \$(grep -c . '$T/long2.out') -eq 3 ] && [ ! -s '$T/long2.err' ]"
fi
# rnn classify --files: each file one text (newlines and all), a directory's .txt files in name
# order (subdirectories after), each line naming its file; the same probabilities as the text
# given as an argument or a line (a newline reads as a space); a file past a block's 1 MiB waits for a block of its own, in order
mkdir -p "$T/files/sub"
printf 'what is it\nwhat a fine film\n' >"$T/files/a.txt"
printf 'a fine film\n' >"$T/files/sub/b.txt"
printf 'not read\n' >"$T/files/c.md"
awk 'BEGIN { for (i = 0; i < 150000; i++) printf "what is it\n" }' >"$T/bigfile.txt"
vecm="$T/vec/model.safetensors"
$RNN classify "$vecm" --files "$T/files/" "$T/bigfile.txt" "$T/files/sub/b.txt" >"$T/files.out" 2>"$T/files.err"
check "classify --files: a directory's .txt files in name order, then the files, each line naming its file" \
    "[ \"\$(cut -f1 '$T/files.out' | tr '\n' ' ')\" = '$T/files/a.txt $T/files/sub/b.txt $T/bigfile.txt $T/files/sub/b.txt ' ] && [ ! -s '$T/files.err' ]"
$RNN classify "$vecm" --files --json "$T/files/a.txt" "$T/bigfile.txt" >"$T/files.json"
$RNN classify "$vecm" --json "$(cat "$T/files/a.txt")" >"$T/files_arg.json"
tr '\n' ' ' <"$T/bigfile.txt" | $RNN classify "$vecm" --json >>"$T/files_arg.json" # (too long an argument)
check "classify --files --json: {\"file\": PATH, ...} with the probabilities of the text given otherwise" \
    "[ \"\$(sed -n 1p '$T/files.json' | cut -d'\"' -f4)\" = '$T/files/a.txt' ] && [ \"\$(sed 's/^{\"file\": \"[^\"]*\", //; s/^{//' '$T/files.json')\" = \"\$(sed 's/^{//' '$T/files_arg.json')\" ]"
expect_error "classify --files: a missing file is named before any text is classified" "classify: $T/nofile.txt: cannot open: No such file" \
    $RNN classify "$vecm" --files "$T/files/a.txt" "$T/nofile.txt"
check "  (nothing printed)" "[ ! -s '$T/out' ]"
printf 'good \377 bad\n' >"$T/files_bad.txt"
expect_error "classify --files: a file of invalid UTF-8 is named after the files before it are answered" \
    "classify: $T/files_bad.txt: input has invalid UTF-8 at byte offset 5" \
    $RNN classify "$vecm" --files "$T/files/a.txt" "$T/files_bad.txt" "$T/files/a.txt"
check "  (the file before it answered)" "[ \$(wc -l <'$T/out') -eq 1 ] && grep -q '^$T/files/a.txt	' '$T/out'"
mkdir -p "$T/files_none"
expect_error "classify --files: a directory without .txt files" "classify: $T/files_none: a directory with no .txt files" \
    $RNN classify "$vecm" --files "$T/files_none"
expect_error "classify --files without a path" "classify: --files: which files?" $RNN classify "$vecm" --files
# odd file names: a newline or tab stays inside its line (\n, \t), a byte of no UTF-8 is \xff in a
# line and U+FFFD in JSON (JSON text is UTF-8), in the output and in a warning
mkdir -p "$T/oddnames"
printf 'a fine film' >"$T/oddnames/$(printf 'new\nline.txt')"
: >"$T/oddnames/$(printf 'tab\tbad\377.txt')"
$RNN classify "$vecm" --files "$T/oddnames" >"$T/odd.out" 2>"$T/odd.err"
check "classify --files: a file name's newline, tab and stray byte are escaped, one line a file" \
    "[ \$(wc -l <'$T/odd.out') -eq 2 ] && grep -q '^$T/oddnames/new\\\\nline.txt	' '$T/odd.out' && grep -q '^$T/oddnames/tab\\\\tbad\\\\xff.txt	' '$T/odd.out' && [ \$(wc -l <'$T/odd.err') -eq 1 ] && grep -q 'warning: $T/oddnames/tab\\\\tbad\\\\xff.txt: no tokens' '$T/odd.err'"
$RNN classify "$vecm" --files --json "$T/oddnames" >"$T/odd.json" 2>/dev/null
if py_torch; then
    check "classify --files --json: valid JSON for any file name" \
        "/usr/bin/python3 -c 'import json,sys; n=[json.loads(l)[\"file\"] for l in open(sys.argv[1], \"rb\")]; sys.exit(n != [sys.argv[2] + \"/new\\nline.txt\", sys.argv[2] + \"/tab\\tbad\\ufffd.txt\"])' '$T/odd.json' '$T/oddnames'"
fi
# --precision bf16 for rnn eval and rnn classify: bf16 products, fp32 sums, within ~1e-4 of fp32;
# on a CPU without bf16 products (RNN_NO_BF16=1 makes this one such a CPU) a warning, and fp32's
# numbers exactly
json_loss() { grep -o '"loss": [-0-9.e]*' | head -n 1 | grep -o '[-0-9.e]*$'; }
probs() { grep -o '\[[^]]*\]' | tr -d '[],' | tr '\n' ' '; }
l32=$($RNN eval "$vecm" --data "$T/cls.tsv" --json | json_loss)
lm32=$($RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --streams 4 --json | json_loss)
p32=$($RNN classify "$vecm" --json "a fine film" "what is it" | probs)
for no in 1 0; do
    l16=$(RNN_NO_BF16=$no $RNN eval "$vecm" --data "$T/cls.tsv" --json --precision bf16 2>"$T/bf16.err" | json_loss)
    lm16=$(RNN_NO_BF16=$no $RNN eval "$T/run/model.safetensors" --data "$T/text.txt" --streams 4 --json --precision bf16 2>/dev/null | json_loss)
    p16=$(RNN_NO_BF16=$no $RNN classify "$vecm" --json --precision bf16 "a fine film" "what is it" 2>"$T/bf16c.err" | probs)
    if grep -q 'warning: --precision bf16 needs .*; computing in fp32$' "$T/bf16.err"; then
        check "eval/classify --precision bf16 without bf16 products (RNN_NO_BF16=$no): a warning, and fp32's numbers" \
            "[ -n '$l32' ] && [ '$l16' = '$l32' ] && [ '$lm16' = '$lm32' ] && [ '$p16' = '$p32' ] && grep -q 'rnn classify: warning: --precision bf16 needs' '$T/bf16c.err'"
    elif [ $no = 0 ]; then
        close_all() { # A B TOL: the numbers of two lists pairwise within TOL
            awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { n = split(a, x, " "); m = split(b, y, " "); if (n != m || n == 0) exit 1;
                for (i = 1; i <= n; i++) { d = x[i] - y[i]; if (d < 0) d = -d; if (d > t) exit 1 } }'
        }
        check "eval --precision bf16: a classifier's loss within 1e-3 of fp32's ($l16 vs $l32), a language model's ($lm16 vs $lm32)" \
            "close '$l16' '$l32' 1e-3 && close '$lm16' '$lm32' 1e-3 && [ ! -s '$T/bf16.err' ]"
        check "classify --precision bf16: probabilities within 1e-3 of fp32's" "close_all '$p16' '$p32' 1e-3 && [ ! -s '$T/bf16c.err' ]"
    else
        bad "RNN_NO_BF16=1: no warning from eval --precision bf16 ($(head -c 200 "$T/bf16.err"))"
    fi
done
expect_error "--precision takes fp32 or bf16" "classify: --precision: unknown precision 'half'" \
    $RNN classify "$vecm" --precision half "a fine film"
# one text 100x longer than the rest sizes every batch's activations: the run says so, and which --max-len cuts it
{ cat "$T/cls.tsv"; head -n 1 "$T/cls.tsv" | cut -f1 | tr -d '\n'; printf '\t'; awk 'BEGIN { for (i = 0; i < 3000; i++) printf "what is it "; printf "\n" }'; } >"$T/outlier.tsv"
$RNN train ${cls/cls.tsv/outlier.tsv} --val "$T/cls.tsv" --steps 1 --out "$T/outlier" >"$T/outlierlog" 2>&1
check "a text far longer than the rest is named, with the --max-len that cuts it" \
    "grep -q 'warning: .*outlier.tsv: the longest text has 900[0-9] tokens, [0-9]* times what 99% of them have at most ([0-9]*); the activations are sized for it: --max-len [0-9]* would cut the 1 longest' '$T/outlierlog'"
printf 'zzzq 1 2 3 4\n' >"$T/novec.txt"
expect_error "vectors that cover no token" "novec.txt: no line names a token" \
    $RNN train $cls --embed 4 --vectors "$T/novec.txt" --out "$T/x5"
cut -f2 "$T/cls.tsv" >"$T/cls_text.txt"
$RNN train --data "$T/cls_text.txt" --tokenizer word --layers 1 --hidden 16 --embed 16 --seq-len 16 --batch 4 --steps 10 --threads 1 --progress log --out "$T/lm4cls" >/dev/null 2>&1
clsu=${cls/ --bidirectional/} # --init-from: the encoder's shape comes from the LM
$RNN train $clsu --init-from "$T/lm4cls/model.safetensors" --freeze-epochs 1 --encoder-lr-mult 0.5 --epochs 2 --out "$T/ulm" >"$T/ulmlog" 2>&1
check "classifier from a language model (ULMFiT transfer)" "[ -s '$T/ulm/model.safetensors' ] && grep -q 'initialised 5 tensors' '$T/ulmlog'"

# --- a classifier fine-tuned from a classifier: its pooling, and its head where the classes are its own
$RNN train ${cls/ --bidirectional/} --pool attention --attention-dim 4 --steps 6 --out "$T/cc0" >/dev/null 2>&1
$RNN train ${cls/ --bidirectional/} --init-from "$T/cc0/model.safetensors" --steps 1 --lr 1e-30 --out "$T/cc1" >"$T/cc1.log" 2>&1
e0=$($RNN eval "$T/cc0/model.safetensors" --data "$T/cls.tsv"); e1=$($RNN eval "$T/cc1/model.safetensors" --data "$T/cls.tsv")
check "a classifier fine-tuned on its own classes carries its head and attention ($e1)" \
    "grep -q 'initialised 10 tensors (the whole classifier: the data.s classes are its 6)' '$T/cc1.log' && grep -qx 'pool = attention' '$T/cc1/config.txt' && [ -n '$e0' ] && [ '${e0#*:}' = '${e1#*:}' ]"
awk -F'\t' '$1 == "HUM" || $1 == "LOC"' "$T/cls.tsv" >"$T/cls2.tsv"
$RNN train ${cls/ --bidirectional/} --data "$T/cls2.tsv" --init-from "$T/cc0/model.safetensors" --loss bce --steps 1 --out "$T/cc2" >"$T/cc2.log" 2>&1
check "... some of them are a new task: a new head for those (here 2 of the 6, with --loss bce)" \
    "grep -q 'a new head for the data.s classes, which are not the model.s' '$T/cc2.log' && grep -q 'classes (2): HUM, LOC' '$T/cc2.log' && [ -s '$T/cc2/model.safetensors' ]"
awk -F'\t' 'BEGIN { OFS = "\t" } { $1 = "q" $1; print }' "$T/cls.tsv" >"$T/clsq.tsv"
$RNN train ${cls/ --bidirectional/} --data "$T/clsq.tsv" --init-from "$T/cc0/model.safetensors" --steps 1 --out "$T/cc3" >"$T/cc3.log" 2>&1
check "... other classes get a new head, the attention carried" \
    "grep -q 'initialised 8 tensors (embedding, recurrent layers, attention pooling) from .*; a new head for the data.s classes, which are not the model.s' '$T/cc3.log'"
$RNN train ${cls/ --bidirectional/} --init-from "$T/cc0/model.safetensors" --pool mean --steps 1 --out "$T/cc4" >"$T/cc4.log" 2>&1
check "... another --pool gets a new head" "grep -q 'initialised 5 tensors (embedding, recurrent layers) from .*; a new head for the pooling asked for' '$T/cc4.log'"
$RNN train ${cls/ --bidirectional/} --data "$T/cls2.tsv" --loss bce --steps 2 --out "$T/cb0" >/dev/null 2>&1
$RNN train ${cls/ --bidirectional/} --data "$T/cls2.tsv" --init-from "$T/cb0/model.safetensors" --steps 1 --out "$T/cb1" >"$T/cb1.log" 2>&1
check "... a binary (bce) classifier stays one" "grep -q 'the whole classifier' '$T/cb1.log' && grep -qx 'loss = bce' '$T/cb1/config.txt'"

# --- backward language models (--reverse) and bidirectional transfer (--init-backward)
lmw="--tokenizer word --layers 1 --hidden 16 --embed 16 --seq-len 16 --batch 4 --steps 20 --threads 1 --progress quiet"
$RNN train --data "$T/cls_text.txt" --init-from "$T/lm4cls/model.safetensors" --reverse --freeze-embedding --steps 10 --threads 1 --progress quiet --out "$T/bwd"
check "a backward LM fine-tuned from a forward one" "[ -s '$T/bwd/model.safetensors' ] && $RNN info '$T/bwd/model.safetensors' --json | grep -q '\"reverse\":true'"
expect_error "sampling a backward LM is refused" "backward (--reverse) language model" $RNN sample "$T/bwd/model.safetensors"
# --grow-vocab counts new words as the model's vocabulary did (its --min-count) unless told otherwise
$RNN train --data "$T/cls_text.txt" $lmw --min-count 2 --steps 1 --out "$T/lmmc" >/dev/null 2>&1
# --no-unk: the unknown token is never drawn (a model barely trained draws it about once in V tokens)
a=$($RNN sample "$T/lmmc/model.safetensors" --length 20000 --seed 1 2>/dev/null | grep -o "<unk>" | wc -l)
b=$($RNN sample "$T/lmmc/model.safetensors" --length 20000 --seed 1 --no-unk 2>/dev/null | grep -o "<unk>" | wc -l)
check "sample --no-unk never draws <unk> ($a in 20000 tokens without it, $b with)" "[ $a -gt 0 ] && [ $b -eq 0 ]"
expect_error "--no-unk for a byte model (no unknown token)" "--no-unk: this model's tokenizer has no unknown token" \
    $RNN sample "$T/bytes/model.safetensors" --no-unk --length 5
{ printf 'zyxwv qqqpp qqqpp\n'; cat "$T/cls_text.txt"; } >"$T/mc_text.txt"
$RNN train --data "$T/mc_text.txt" --init-from "$T/lmmc/model.safetensors" --grow-vocab --steps 1 --threads 1 --out "$T/mc1" >"$T/mc1log" 2>&1
$RNN train --data "$T/mc_text.txt" --init-from "$T/lmmc/model.safetensors" --grow-vocab --min-count 1 --steps 1 --threads 1 --out "$T/mc2" >"$T/mc2log" 2>&1
printf 'zyxwv qqqpp zyxwv qqqpp\n' >"$T/mc_eval.txt" # unknown: zyxwv twice (mc1), nothing (mc2)
u1=$($RNN eval "$T/mc1/model.safetensors" --data "$T/mc_eval.txt" --json | grep -o '"unk": [0-9]*')
u2=$($RNN eval "$T/mc2/model.safetensors" --data "$T/mc_eval.txt" --json | grep -o '"unk": [0-9]*')
check "--grow-vocab takes the model's --min-count (2: qqqpp, not zyxwv), or the one given ($u1; $u2)" \
    "[ '$u1' = '\"unk\": 2' ] && [ '$u2' = '\"unk\": 0' ]"
check "rnn info says a backward LM is one" "$RNN info '$T/bwd/model.safetensors' | grep -q '^  task        backward language model (previous token of'"
expect_error "--reverse=false when fine-tuning a backward LM" "--reverse=false: the model of --init-from .*bwd/model.safetensors is a backward language model" \
    $RNN train --data "$T/cls_text.txt" --init-from "$T/bwd/model.safetensors" --reverse=false --steps 1 --out "$T/x8"
# A backward LM fine-tuned without --reverse stays one, and its config.txt says so: as a --config it
# is the same run again (it said reverse = false, which that run then refused as a change of direction).
$RNN train --data "$T/cls_text.txt" --init-from "$T/bwd/model.safetensors" --steps 1 --threads 1 --progress quiet --out "$T/bwdft" >/dev/null 2>&1
$RNN train --config "$T/bwdft/config.txt" --out "$T/bwdft2" >"$T/bwdft2.log" 2>&1
check "config.txt of a backward LM fine-tuned says reverse and its word tokenizer, and trains again as a --config" \
    "grep -qx 'reverse = true' '$T/bwdft/config.txt' && grep -qx 'tokenizer = word' '$T/bwdft/config.txt' && $RNN info '$T/bwdft2/model.safetensors' --json | grep -q '\"reverse\":true'"
$RNN train $clsu --init-from "$T/lm4cls/model.safetensors" --init-backward "$T/bwd/model.safetensors" --freeze-epochs 1 --epochs 1 --out "$T/biulm" >"$T/biulmlog" 2>&1
check "a bidirectional classifier from a forward and a backward LM" "[ -s '$T/biulm/model.safetensors' ] && grep -q 'initialised the backward direction from' '$T/biulmlog' && ! grep -q warning '$T/biulmlog'"
$RNN train --data "$T/cls_text.txt" $lmw --layers 2 --out "$T/lm2" >/dev/null 2>&1
expect_error "--init-backward from 2-layer LMs names the need" "--init-backward needs 1-layer language models .*; --init-from .*lm2/model.safetensors has 2 layers" \
    $RNN train ${clsu/--layers 1 /} --init-from "$T/lm2/model.safetensors" --init-backward "$T/bwd/model.safetensors" --out "$T/x8"
expect_error "--init-backward without --init-from" "needs --init-from" $RNN train $cls --init-backward "$T/bwd/model.safetensors" --out "$T/x8"
expect_error "--init-backward with a forward LM" "not a backward language model" $RNN train $clsu --init-from "$T/lm4cls/model.safetensors" --init-backward "$T/lm4cls/model.safetensors" --out "$T/x9"
expect_error "--init-from with a backward LM" "goes in --init-backward" $RNN train $clsu --init-from "$T/bwd/model.safetensors" --out "$T/x10"
expect_error "--bidirectional with a forward LM alone is refused" "bidirectional: the model of --init-from .* has none .*--init-backward" $RNN train $clsu --init-from "$T/lm4cls/model.safetensors" --bidirectional --out "$T/x12"
expect_error "--residual when fine-tuning a model without it is refused" "residual: the model of --init-from .* has none" $RNN train --data "$T/cls_text.txt" --init-from "$T/lm4cls/model.safetensors" --residual --steps 1 --out "$T/x13"
check "config.txt of a classifier from two LMs says bidirectional" "grep -q '^bidirectional = true$' '$T/biulm/config.txt'"
# A bidirectional classifier has a backward direction its head was trained with: one from --init-backward
# would replace it under that head (it was taken, the log saying "the whole classifier").
expect_error "--init-backward onto a bidirectional classifier is refused" \
    "init-backward .*bwd/model.safetensors: the model of --init-from .*biulm/model.safetensors is bidirectional already" \
    $RNN train $clsu --init-from "$T/biulm/model.safetensors" --init-backward "$T/bwd/model.safetensors" --out "$T/x15"
# The same shape and vocabulary size, but a tokenizer that reads text differently (--lowercase off:
# on lowercase text the vocabulary is the same, the handling of new text is not).
tr '[:upper:]' '[:lower:]' <"$T/cls_text.txt" >"$T/cls_lower.txt"
$RNN train --data "$T/cls_lower.txt" $lmw --steps 2 --out "$T/lowf" >/dev/null 2>&1
$RNN train --data "$T/cls_lower.txt" $lmw --steps 2 --lowercase false --reverse --out "$T/lowb" >/dev/null 2>&1
expect_error "--init-backward with another tokenizer names the difference" \
    "init-backward .*lowb/model.safetensors: its tokenizer differs from that of --init-from .*lowf/model.safetensors (lowercase off against on)" \
    $RNN train $clsu --init-from "$T/lowf/model.safetensors" --init-backward "$T/lowb/model.safetensors" --out "$T/x14"
expect_error "--init-backward for a language model" "is for classifiers" $RNN train --data "$T/cls_text.txt" --init-backward "$T/bwd/model.safetensors" --out "$T/x11"
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    # Oracle: training --reverse on a text gives, loss for loss, what forward training gives on
    # the same text reversed (a char model: every code point one token).
    head -c 20000 "$T/text.txt" >"$T/fw.txt"; tail -c 4000 "$T/text.txt" >"$T/fwval.txt"
    /usr/bin/python3 -c 'import sys; [open(sys.argv[i + 1], "w").write(open(sys.argv[i]).read()[::-1]) for i in (1, 3)]' \
        "$T/fw.txt" "$T/rv.txt" "$T/fwval.txt" "$T/rvval.txt"
    $RNN train $small --data "$T/fw.txt" --val "$T/fwval.txt" --reverse --steps 20 --eval-every 10 --out "$T/rev1" >/dev/null 2>&1
    $RNN train $small --data "$T/rv.txt" --val "$T/rvval.txt" --steps 20 --eval-every 10 --out "$T/rev2" >/dev/null 2>&1
    a=$(cut -d, -f1,4,5,6 "$T/rev1/metrics.csv" | tr '\n' ' '); b=$(cut -d, -f1,4,5,6 "$T/rev2/metrics.csv" | tr '\n' ' ')
    check "--reverse trains on the text read right to left (same losses as on the reversed file)" "[ -n '$a' ] && [ '$a' = '$b' ]"
    if py_torch; then
        p1=$(/usr/bin/python3 tools/rnnc_torch.py eval "$T/rev1/model.safetensors" "$T/fwval.txt" | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
        c1=$($RNN eval "$T/rev1/model.safetensors" --data "$T/fwval.txt" --json | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
        check "PyTorch's twin evaluates a backward LM as rnn.c does ($c1 vs $p1)" \
            "[ -n '$c1' ] && awk -v a=$c1 -v b=$p1 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 1e-4 * b) }'"
    fi
    e1=$($RNN eval "$T/rev1/model.safetensors" --data "$T/fwval.txt" --json | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
    e2=$($RNN eval "$T/rev2/model.safetensors" --data "$T/rvval.txt" --json | sed -E 's/.*"loss": ([0-9.e-]+).*/\1/')
    check "rnn eval reads a file right to left for a backward LM ($e1 vs $e2)" "[ -n '$e1' ] && [ '$e1' = '$e2' ]"
    # The classifier's directions hold the two LMs' layers and the forward LM's embedding (frozen for its one epoch).
    # --grow-vocab too: the two LMs read as the forward one did; the classifier's vocabulary grows
    { cat "$T/cls.tsv"; head -n 20 "$T/cls.tsv" | awk -F'\t' '{ print $1 "\tglorbix flumph " $2 }'; } >"$T/cls_new.tsv"
    $RNN train ${clsu/cls.tsv/cls_new.tsv} --init-from "$T/lm4cls/model.safetensors" --init-backward "$T/bwd/model.safetensors" \
        --grow-vocab --freeze-epochs 1 --epochs 1 --out "$T/biulm_grow" >"$T/biulm_growlog" 2>&1
    # cls_new.tsv: cls.tsv and 20 lines more, each with glorbix and flumph, words the LMs' vocabulary lacks
    u0=$($RNN eval "$T/biulm/model.safetensors" --data "$T/cls.tsv" --json | grep -o '"unk": [0-9]*' | grep -o '[0-9]*$')
    u1=$($RNN eval "$T/biulm/model.safetensors" --data "$T/cls_new.tsv" --json | grep -o '"unk": [0-9]*' | grep -o '[0-9]*$')
    n=$($RNN eval "$T/biulm/model.safetensors" --data "$T/cls_new.tsv" --json | grep -o '"tokens": [0-9]*' | grep -o '[0-9]*$')
    check "rnn eval of a classifier counts the unknown tokens ($u0, then $u1 of $n)" \
        "[ -n '$u0' ] && [ \$(($u1 - $u0)) -eq 40 ] && $RNN eval '$T/biulm/model.safetensors' --data '$T/cls_new.tsv' | grep -qx '($u1 of $n tokens were not in the vocabulary)'"
    $RNN train ${clsu/cls.tsv/cls_new.tsv} --init-from "$T/lm4cls/model.safetensors" --steps 1 --out "$T/unkft" >"$T/unkftlog" 2>&1
    check "fine-tuning a classifier counts the unknown tokens of its training and validation parts (as eval: $u1)" \
        "[ \$(grep -o '[0-9]* of [0-9]* tokens unknown (' '$T/unkftlog' | awk '{ s += \$1 } END { print s }') -eq '$u1' ]"
    check "--grow-vocab with --init-backward: both LMs' layers, and new tokens" \
        "grep -q -- '--grow-vocab: [0-9]* tokens of .*cls_new.tsv added to the vocabulary .*: \"flumph\" \"glorbix\"' '$T/biulm_growlog' && grep -q 'initialised the backward direction from' '$T/biulm_growlog' && ! grep -q warning '$T/biulm_growlog'"
    for run in biulm biulm_grow; do
        check "--init-backward puts each LM's layer in its direction ($run)" "/usr/bin/python3 - '$T' $run <<'PY'
import json, sys
sys.path.insert(0, 'tests/ref'); import st
import numpy as np
T = sys.argv[1]
c, _ = st.load(T + '/' + sys.argv[2] + '/model.safetensors'); f, _ = st.load(T + '/lm4cls/model.safetensors'); b, _ = st.load(T + '/bwd/model.safetensors')
V = f['embedding.weight'].shape[0]
pad = json.loads(_['tokenizer'])['pad_id']  # the LM's never-trained <pad> row: the classifier's zero padding row
ok = np.array_equal(np.delete(c['embedding.weight'][:V], pad, 0), np.delete(f['embedding.weight'], pad, 0)) and not c['embedding.weight'][pad].any()
new = c['embedding.weight'][V:]  # grown rows start alike (the mean of the others), and stay (frozen)
ok &= (len(new) > 2 if 'grow' in sys.argv[2] else len(new) == 0) and all(np.array_equal(r, new[0]) for r in new)
for k in ('weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'):
    ok &= np.array_equal(c['rnn.' + k], f['rnn.' + k]) and np.array_equal(c['rnn.' + k + '_reverse'], b['rnn.' + k])
ok &= not np.array_equal(f['rnn.weight_hh_l0'], b['rnn.weight_hh_l0'])
sys.exit(not ok)
PY"
    done
fi


# --- damaged metadata, endless inputs and sizes (the fuzz audit's finds), refused in one line
if command -v python3 >/dev/null; then
    # a tokenizer key with a damaged name: "strip_htmL" read as off tokenized differently, silently
    for i in $(seq 1 400); do echo "<p>line $i of <b>html</b> text</p>"; done >"$T/html.txt"
    $RNN train --data "$T/html.txt" --strip-html --layers 1 --hidden 16 --embed 8 --seq-len 16 --batch 4 --steps 2 \
        --threads 1 --out "$T/html" >/dev/null 2>&1
    python3 - "$T/html/model.safetensors" "$T/html_key.safetensors" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n])
tok = json.loads(h["__metadata__"]["tokenizer"]); tok["strip_htmL"] = tok.pop("strip_html")
h["__metadata__"]["tokenizer"] = json.dumps(tok)
b = json.dumps(h).encode(); b += b" " * (-len(b) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(b)) + b + d[8 + n:])
PY
    check "an html model evaluates (the base case)" "$RNN eval '$T/html/model.safetensors' --data '$T/html.txt' >/dev/null 2>&1"
    expect_error "a tokenizer key with a damaged name is refused" \
        'html_key.safetensors: bad tokenizer: tokenizer metadata: unknown key "strip_htmL" (a damaged file' \
        $RNN eval "$T/html_key.safetensors" --data "$T/html.txt"
    # the cache's settings, checked on loading whatever cache_size is, with the file named
    $DMG "$T/run/model.safetensors" "$T/theta.safetensors" cfg cache_theta -5
    expect_error "a checkpoint's cache_theta out of range, without a cache" \
        'theta.safetensors: bad config: config: "cache_theta" must be in \[0, 1e+06\] (got -5): a damaged file' \
        $RNN eval "$T/theta.safetensors" --data "$T/text.txt" --cache 10
    # a resume state whose best is not its best loss (0 kept model.safetensors from ever updating)
    damaged_state best0 meta train.best_val 0
    expect_error "a state whose best_val is not its best_loss" \
        'dmg_best0/state.safetensors: resume state "train.best_val" is 0 but "train.best_loss" is [0-9.]*' \
        $RNN train --resume "$T/dmg_best0" --steps 31
fi
# endless inputs: refused at their first NUL byte, not read until memory runs out (the address-space
# limit guards this machine should that break; AddressSanitizer cannot run under one, as above)
asan=0; ldd "$RNN" 2>/dev/null | grep -q libasan && asan=1
lim="ulimit -v 2000000;"; [ $asan -eq 1 ] && lim=""
expect_error "wordpiece:/dev/zero is refused at its first byte" "/dev/zero:1: a NUL byte (not a vocabulary file?)" \
    bash -c "$lim exec timeout 60 $RNN train --data '$T/text.txt' --tokenizer wordpiece:/dev/zero --steps 1 --out '$T/x20'"
expect_error "--vectors /dev/zero is refused at its first byte" "/dev/zero:1: a NUL byte (not a text file of vectors?)" \
    bash -c "$lim exec timeout 60 $RNN train $small --tokenizer word --vectors /dev/zero --steps 1 --out '$T/x20'"
# --grow-vocab --vectors with no new token: nothing is wrong, the vectors have no rows to give
printf 'e 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n' >"$T/v16.txt"
$RNN train $small --init-from "$T/run/model.safetensors" --grow-vocab --vectors "$T/v16.txt" --steps 1 --out "$T/gv" >"$T/gvlog" 2>&1
check "--grow-vocab --vectors without new tokens trains on, with a warning" \
    "[ $? -eq 0 ] && grep -q 'warning: --vectors .*v16.txt is not read: --grow-vocab added no tokens' '$T/gvlog'"
# a run whose activations cannot fit is refused before it starts, naming the flags that size them
if [ $asan -eq 1 ]; then
    ok "(skipped under AddressSanitizer) activations past the memory limit are refused up front"
else
    expect_error "activations past the memory limit are refused up front" \
        "the run needs [0-9.]* GB: .* [0-9.]* GB for the activations of a batch (--batch 32 x --seq-len 64, --embed 200000, --hidden 8, --layers 1, vocabulary [0-9]*), more than the 2.0 GB this process may use" \
        bash -c "$lim exec $RNN train --data '$T/text.txt' --layers 1 --hidden 8 --embed 200000 --batch 32 --seq-len 64 --threads 1 --steps 1 --out '$T/x21'"
    check "... leaving no run directory" "[ ! -e '$T/x21' ]"
    # a classifier grown from a word LM (--grow-vocab): the LM's logits are no activation of the
    # classifier's, so 2 GB is plenty (this was refused as needing 2.9 GB)
    imdb=$DATA/imdb/train.tsv
    if [ -r "$imdb" ]; then
        head -n 2000 "$imdb" | cut -f3 >"$T/imdb_lm.txt"
        { sed -n 2001,2150p "$imdb"; tail -n 150 "$imdb"; } | cut -f1,3 >"$T/imdb_cls.tsv"
        $RNN train --data "$T/imdb_lm.txt" --tokenizer word --layers 1 --hidden 8 --embed 8 --steps 1 --threads 1 \
            --progress quiet --out "$T/imlm" >/dev/null 2>&1
        bash -c "$lim exec $RNN train --task classify --data '$T/imdb_cls.tsv' --init-from '$T/imlm/model.safetensors' --grow-vocab --steps 1 --threads 1 --progress quiet --out '$T/imcls'" 2>"$T/err"
        check "a classifier grown from a word LM is sized as a classifier by the memory check" \
            "[ -s '$T/imcls/model.safetensors' ] && ! grep -q 'the run needs' '$T/err'"
    fi
fi

# --- rnn plot of a metrics.csv whose last line a crash cut short (no newline, too few fields):
# that line is left out with one warning naming file:line, and the rows before it are drawn;
# the same line with a row written after it is an error naming it
mkdir -p "$T/tornrun"
cp "$T/run/metrics.csv" "$T/tornrun/metrics.csv"
torn_at=$(($(wc -l <"$T/tornrun/metrics.csv") + 1))
printf '700,15.1,14336' >>"$T/tornrun/metrics.csv"
$RNN plot "$T/tornrun" >"$T/out" 2>"$T/err"
check "plot of a metrics.csv with a torn last line draws the rows before it" \
    "[ $? -eq 0 ] && grep -q '</svg>' '$T/tornrun/metrics.svg' && [ \$(grep -c '<circle' '$T/tornrun/metrics.svg') -ge 4 ]"
check "... and says so in one warning line naming file:line" \
    "[ \$(wc -l <'$T/err') -eq 1 ] && grep -q '^rnn: warning: .*tornrun/metrics.csv:$torn_at: 3 fields where the header has 9' '$T/err'"
printf '\n' >>"$T/tornrun/metrics.csv"
tail -n 1 "$T/run/metrics.csv" >>"$T/tornrun/metrics.csv"
expect_error "a torn line with rows after it is an error naming file:line" "tornrun/metrics.csv:$torn_at: 3 fields" \
    $RNN plot "$T/tornrun"

summary
