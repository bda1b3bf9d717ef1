#!/usr/bin/env bash
# test_torch_tool.sh: tools/rnnc_torch.py (the PyTorch twin of an rnn.c model,
# and the state_dict -> checkpoint converter) against rnn.c itself: the same
# tokens (char: lowercase, strip_html, invalid UTF-8 replaced; byte: an empty
# text is one space; word: lowercase, punctuation split off, HTML stripped,
# Unicode spaces and punctuation, "\n" tokens, "<unk>"/"<pad>" read as <unk>,
# rnn.c's punctuation table), the same generated text (word: rnn sample's
# spaces), the same text file (bytes, "\r" kept, BOM skipped, NUL refused),
# the same residual stacks, F16/BF16/F64 files read as rnn.c reads
# them, exports (DataParallel names, a training script's dict, a model made in
# PyTorch, a safetensors state_dict as save_file and save_model write it) that
# rnn.c loads with the same results, export's checks, a perplexity past a
# double's range (null, as rnn eval --json), a cache mixture of probabilities
# far below float's range, and one-line errors. Tiny models; the tool's runs
# share two Python processes (importing torch takes seconds), so it runs in
# well under a minute on 2 cores. TOOL=path tests another copy of the tool
# (with its tests/ref/st.py beside it, as in the tree); KEEP=1 keeps the
# scratch directory.
# Ends with "tests/test_torch_tool.sh: N passed, N failed".
set -u
. "$(dirname "$0")/harness.sh"
TOOL=${TOOL:-tools/rnnc_torch.py}
ST_DIR=$(dirname "$TOOL")/../tests/ref
PY=/usr/bin/python3
if ! $PY -c 'import torch' 2>/dev/null; then
    echo "skip: no torch"
    summary
    exit 0
fi
export OMP_NUM_THREADS=1 # one small model at a time: no thread pools

# job NAME ARG...: queues "rnnc_torch.py ARG..." (or, for NAME mk_*, "python3 ARG...") for a
# runner; its stdout, stderr and exit status land in $T/NAME.out, .err, .rc
mkdir -p "$T/jobs"
job() { local name=$1; shift; printf '%s\0' "$@" >"$T/jobs/$name"; }
# The runner: one Python process that imports torch once, then runs each queued job as
# `python3 TOOL ARG...` would run (runpy as __main__, sys.argv decoded as Python decodes it,
# SystemExit's code or message as the interpreter turns it into an exit status, and an
# uncaught exception's traceback on stderr, status 1).
cat >"$T/runner.py" <<'PY'
import io, os, runpy, sys, traceback
import torch  # noqa: F401  (once, for every job)
tool, T = sys.argv[1], sys.argv[2]
for name in sys.argv[3:]:
    args = [os.fsdecode(a) for a in open(f"{T}/jobs/{name}", "rb").read().split(b"\0")[:-1]]
    script = args.pop(0) if name.startswith("mk_") else tool
    out, err = open(f"{T}/{name}.out", "wb"), open(f"{T}/{name}.err", "wb")
    so = io.TextIOWrapper(out, encoding="utf-8", errors="surrogateescape", write_through=True)
    se = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    saved = sys.stdout, sys.stderr, sys.stdin, sys.argv, list(sys.path)
    sys.stdout, sys.stderr, sys.stdin, sys.argv = so, se, open(os.devnull), [script] + args
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
        if not isinstance(e.code, (int, type(None))):
            print(e.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        so.flush(), se.flush()
        sys.stdout, sys.stderr, sys.stdin, sys.argv, sys.path[:] = saved
        out.close(), err.close()
    open(f"{T}/{name}.rc", "w").write(f"{code}\n")
PY
runner() { $PY "$T/runner.py" "$TOOL" "$T" "$@" >"$T/runner.log" 2>&1; }
rc() { cat "$T/$1.rc" 2>/dev/null || echo 255; }
# close A B TOL: two numbers agree within TOL
close() { $PY -c 'import sys; a, b, t = map(float, sys.argv[1:]); sys.exit(not abs(a - b) <= t)' "$1" "$2" "$3" 2>/dev/null; }
# same_probs A B TOL: the "probabilities" arrays of two files, line for line, within TOL
same_probs() {
    $PY - "$1" "$2" "$3" <<'PY'
import json, re, sys
def probs(path):
    return [json.loads(m) for m in re.findall(r'"probabilities": (\[[^]]*\])', open(path, errors="replace").read())]
a, b, tol = probs(sys.argv[1]), probs(sys.argv[2]), float(sys.argv[3])
sys.exit(not (a and len(a) == len(b) and all(len(x) == len(y) and all(abs(u - v) <= tol for u, v in zip(x, y))
                                             for x, y in zip(a, b))))
PY
}
# same_classify NAME MODEL WHAT TEXTS...: rnn classify --json on the texts (into c_NAME.out and .err)
# exits as the tool's run p_NAME did, with a line for each text when both succeed, and both give
# the same probabilities (1e-5)
same_classify() {
    local name=$1 model=$2 what=$3 crc n; shift 3
    $RNN classify "$model" --json "$@" >"$T/c_$name.out" 2>"$T/c_$name.err"
    crc=$?
    n=$(wc -l <"$T/c_$name.out")
    check "classify: $what" \
        "[ $crc -eq \$(rc p_$name) ] && { [ $crc -ne 0 ] || [ $n -eq $# ]; } && same_probs '$T/c_$name.out' '$T/p_$name.out' 1e-5"
}
# loss FILE: its JSON's "loss"; c_loss CKPT FILE [FLAGS]: rnn eval's
loss() { sed -nE 's/^\{"loss": ([-0-9.e+]+).*/\1/p' "$1" | head -1; }
c_loss() { local ck=$1 f=$2; shift 2; $RNN eval "$ck" --data "$f" --json "$@" 2>/dev/null | sed -nE 's/^\{"loss": ([-0-9.e+]+).*/\1/p'; }
# one_line_error NAME: a non-zero exit (not a crash), one line of stderr, no traceback
one_line_error() {
    local r; r=$(rc "$1")
    [ "$r" -ne 0 ] && [ "$r" -lt 128 ] && [ "$(wc -l <"$T/$1.err")" -eq 1 ] && ! grep -q Traceback "$T/$1.err"
}

# --- data: small slices
head -c 20000 "$DATA/tinyshakespeare/input.txt" | sed 's/$/\r/' >"$T/lm.txt" # CRLF line ends: "\r" in the vocab
{ printf '\xef\xbb\xbf'; head -c 1500 "$DATA/tinyshakespeare/input.txt" | tail -c 1200 | sed 's/$/\r/'; } >"$T/crlf_bom.txt"
head -n 400 "$DATA/trec/train.tsv" >"$T/trec.tsv"
head -n 200 "$DATA/sst2/train.tsv" >"$T/sst2.tsv" # integer labels 0 and 1, named by --label-names
printf 'negative\npositive\n' >"$T/sst2.names"
# with a few texts holding invalid UTF-8, HTML and capitals: U+FFFD and the tags' space in the vocabulary
{ cat "$T/trec.tsv"; printf 'HUM\tHUM:ind\tWho <b>WROTE</b> \xff\xfe this ?\nNUM\tNUM:date\tWhen did \xe2\x82 ÉTÉ <br /> start ?\n'; } >"$T/trec_html.tsv"
awk -F'\t' '$1 == "DESC" || $1 == "NUM"' "$DATA/trec/train.tsv" | head -n 300 >"$T/trec2.tsv"
printf 'abc\000def\nmore text\n' >"$T/nul.txt"
# for the word models: CRLF, HTML, capitals, ASCII and Unicode punctuation and spaces (U+00A0, U+3000, U+2028,
# U+200B, U+FEFF), "<unk>"/"<pad>" as text, words not in the vocabulary
{ head -c 1500 "$DATA/tinyshakespeare/input.txt" | tail -c 1200 | sed 's/$/\r/'
  printf 'The <b>KING</b> said: \xc2\xabHello\xe2\x80\xa6\xc2\xbb \xe2\x80\x94 \xe2\x80\x9cRoMeO\xe2\x80\x9d, wherefore?\r\n'
  printf '<br />Zyzzyva <unk> <pad> \xc2\xbfqu\xc3\xa9? \xe3\x80\x81\xe3\x80\x82\tCITIZEN\xc2\xa0you\xe3\x80\x80ARE\xe2\x80\xa8all,'
  printf 'resolved\xe2\x80\x8brather\xef\xbb\xbfto die than to famish? $5+x=<y>|~^`\r\n\r\nMENENIUS:\r\n'; } >"$T/word.txt"
{ printf '\xef\xbb\xbfAB\000\r\n\xff\xe2\x82 ok \xf0\x9f\x99\x82\r\n'; head -c 600 "$DATA/tinyshakespeare/input.txt"; } >"$T/bytes.txt"
tiny="--hidden 16 --embed 8 --steps 20 --threads 1 --progress quiet"
cls="--task classify --label-col 1 --text-col 3 --batch 16"
lm="--seq-len 16 --batch 4"

# --- models, trained by rnn.c (two at a time)
$RNN train $cls $tiny --data "$T/trec_html.tsv" --tokenizer char --lowercase --strip-html --replace-invalid \
    --out "$T/cls_lower" >/dev/null 2>&1 &
$RNN train $cls $tiny --data "$T/trec2.tsv" --tokenizer byte --loss bce --cell gru --layers 1 --pool attention \
    --attention-dim 8 --max-len 10 --out "$T/cls_byte" >/dev/null 2>&1
wait
$RNN train $cls $tiny --data "$T/trec.tsv" --tokenizer char --cell gru --layers 3 --bidirectional --residual \
    --pool last --dropout 0.1 --out "$T/cls_res" >/dev/null 2>&1 &
$RNN train $lm $tiny --data "$T/lm.txt" --out "$T/lm" >/dev/null 2>&1
wait
$RNN train $lm $tiny --embed 16 --data "$T/lm.txt" --layers 2 --residual --tie-weights --dropout 0.1 \
    --out "$T/lm_res" >/dev/null 2>&1 &
$RNN train $lm $tiny --data "$T/lm.txt" --tokenizer byte --layers 1 --cell rnn_tanh --out "$T/lm_byte" >/dev/null 2>&1
wait
$RNN train $cls $tiny --data "$T/trec.tsv" --tokenizer word --strip-html --layers 1 --out "$T/cls_word" >/dev/null 2>&1 &
$RNN train $cls $tiny --data "$T/trec.tsv" --tokenizer word --lowercase=0 --split-punct=0 --layers 1 \
    --max-len 6 --truncate tail --out "$T/cls_word_raw" >/dev/null 2>&1 &
$RNN train $tiny --task classify --data "$T/sst2.tsv" --label-col 1 --text-col 2 --label-names "$T/sst2.names" \
    --layers 1 --out "$T/cls_named" >/dev/null 2>&1 &
# a word LM trained enough that its greedy text has "\n" tokens and punctuation, not one word over and over
$RNN train --data "$T/lm.txt" --tokenizer word --layers 1 --hidden 64 --embed 32 --steps 300 --lr 0.01 --seq-len 32 \
    --batch 8 --threads 1 --progress quiet --out "$T/lm_word" >/dev/null 2>&1
wait
for m in cls_lower cls_byte cls_res lm lm_res lm_byte cls_word cls_word_raw lm_word cls_named; do
    check "rnn.c trains the $m model" "[ -s '$T/$m/model.safetensors' ]"
done

# --- inputs made without torch: F16/BF16/F64 (and I8) copies of a checkpoint, JSON parts for export
$PY - "$ST_DIR" "$T" <<'PY'
import json, struct, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import st
T = sys.argv[2]
def write(path, tensors, meta):  # a safetensors file of {name: (dtype name, raw bytes, shape)}
    header, blobs, off = {}, [], 0
    for name, (dt, raw, shape) in sorted(tensors.items()):
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
t, meta = st.load(T + "/lm/model.safetensors")
conv = {"F16": lambda a: a.astype("<f2").tobytes(), "F64": lambda a: a.astype("<f8").tobytes(),
        "BF16": lambda a: (a.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()}
for dt, f in conv.items():
    write(f"{T}/lm_{dt}.safetensors", {k: (dt, f(v), v.shape) for k, v in t.items()}, meta)
first = sorted(t)[0]
write(f"{T}/lm_I8.safetensors", {k: ("I8", v.astype("<i1").tobytes(), v.shape) if k == first else
                                 ("F32", v.astype("<f4").tobytes(), v.shape) for k, v in t.items()}, meta)
open(T + "/first_tensor", "w").write(first)
# layouts rnn.c refuses (two float32 pairs, a and b): a hole, an overlap, bytes after the data, a name twice
def raw_file(name, header, nbytes):
    h = ("{" + header + "}").encode()
    open(f"{T}/{name}.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"\0" * nbytes)
ent = '"%s": {"dtype": "F32", "shape": [2], "data_offsets": [%d, %d]}'
raw_file("st_hole", ent % ("a", 0, 8) + ", " + ent % ("b", 12, 20), 20)
raw_file("st_overlap", ent % ("a", 0, 8) + ", " + ent % ("b", 4, 12), 12)
raw_file("st_tail", ent % ("a", 0, 8) + ", " + ent % ("b", 8, 16), 19)
raw_file("st_twice", ent % ("a", 0, 8) + ", " + ent % ("a", 8, 16), 16)
# state_dicts as safetensors.torch.save_file and save_model write them ({"format": "pt"}, no rnn.c
# metadata): lm_res's (tied) without head.weight, which save_model leaves out as a shared tensor; lm's in F16
t, _ = st.load(T + "/lm_res/model.safetensors")
write(T + "/sf_tied.safetensors", {k: ("F32", v.astype("<f4").tobytes(), v.shape) for k, v in t.items()
                                   if k != "head.weight"}, {"format": "pt"})
t, _ = st.load(T + "/lm/model.safetensors")
write(T + "/sf_F16.safetensors", {k: ("F16", conv["F16"](v), v.shape) for k, v in t.items()}, {"format": "pt"})
for m in ("lm", "lm_res", "cls_named", "cls_res"):
    t, meta = st.load(f"{T}/{m}/model.safetensors")
    for k in ("config", "tokenizer") + (("labels",) if "labels" in meta else ()):
        open(f"{T}/{m}.{k}.json", "w").write(meta[k])
meta["label_base"] = "2"  # cls_res's with a label_base rnn.c refuses
st.save(T + "/lb_bad.safetensors", t, meta)
del meta["label_base"]
labels = json.loads(meta["labels"])  # cls_res's, with the first name twice
json.dump(labels[:-1] + labels[:1], open(T + "/dup.labels.json", "w"))
tok = json.loads(meta["tokenizer"])  # cls_res's char tokenizer without "lowercase", with a token too many
del tok["lowercase"]                 # and its "strip_html" misspelt
tok["strip_htmL"] = tok.pop("strip_html")
tok["vocab"].append("\u2603")
json.dump(tok, open(T + "/bad.tokenizer.json", "w"))
PY
# state_dicts a PyTorch user has: a DataParallel model's, a training script's dict, a whole module, and a
# model made in PyTorch for a hand-written char vocabulary, with its loss by plain torch (not the tool)
cat >"$T/mk_pt.py" <<'PY'
import json, sys
import torch
from torch import nn
sys.path.insert(0, sys.argv[1])
import st
T = sys.argv[2]
t, _ = st.load(T + "/cls_res/model.safetensors")
torch.save({"module." + k: torch.from_numpy(v) for k, v in t.items()}, T + "/dp.pt")
t, _ = st.load(T + "/lm/model.safetensors")
torch.save({"epoch": 3, "state_dict": {k: torch.from_numpy(v).double() for k, v in t.items()}, "optimizer": {}},
           T + "/wrapped.pt")
torch.save(nn.Linear(3, 2), T + "/module.pt")
t, _ = st.load(T + "/cls_named/model.safetensors")
torch.save({k: torch.from_numpy(v) for k, v in t.items()}, T + "/named.pt")
torch.manual_seed(5)
text = "to be, or not to be: that is the question.\n"
vocab = ["<pad>", "<unk>"] + sorted(set(text))
class M(nn.Module):  # the twin's names, by hand
    def __init__(s):
        super().__init__()
        s.embedding = nn.Embedding(len(vocab), 6)
        s.rnn = nn.GRU(6, 10, 2, batch_first=True)
        s.head = nn.Linear(10, len(vocab))
m = M()
with torch.no_grad():
    for p in m.parameters():
        p.mul_(3)
    ids = torch.tensor([[vocab.index(ch) for ch in text]])
    logits = m.head(m.rnn(m.embedding(ids[:, :-1]))[0])[0]
    loss = nn.functional.cross_entropy(logits, ids[0, 1:]).item()
torch.save(m.state_dict(), T + "/fresh.pt")
json.dump({"task": "lm", "cell": "gru", "vocab_size": len(vocab), "embed_dim": 6, "hidden_dim": 10, "num_layers": 2},
          open(T + "/fresh.config.json", "w"))
json.dump({"type": "char", "vocab": vocab, "pad_id": 0, "unk_id": 1, "lowercase": False},  # the docstring's example
          open(T + "/fresh.tokenizer.json", "w"))
open(T + "/fresh.txt", "w").write(text)
open(T + "/fresh.loss", "w").write(repr(loss))
with torch.no_grad():  # every target 2000 nats below <pad>: a perplexity no double holds
    m.head.weight.zero_()
    m.head.bias.zero_()
    m.head.bias[0] = 2000.0
torch.save(m.state_dict(), T + "/huge.pt")
PY

# --- the tool's runs: classify, eval, greedy in one runner; the exports in another; one real process
texts=("Who wrote Hamlet ?" "<b>WHO</b> WROTE <i>Hamlet</i> ?" "ÉTÉ À PARIS, İstanbul, ΣΟΦΙΑ, ДОМ" ""
    "a<!-- note -->b</p> <3 a < b > c <a" "<br/><BR /><p class=x>Text</p>" "ǅ Ⅻ ＡＢ 𐐀 ẞ")
bad_texts=($'\xff\xfe who' $'\xe2\x82 is \xe2\x82\xac \xc0\x80 <b \xff>tag</b>' $'x\xed\xa0\x80y')
job p_lower classify "$T/cls_lower/model.safetensors" "${texts[@]}"
job p_lower_bad classify "$T/cls_lower/model.safetensors" "${bad_texts[@]}"
btexts=("" "What is a byte ?" "é<b>")
job p_byte classify "$T/cls_byte/model.safetensors" "${btexts[@]}"
rtexts=("How far is it from Denver to Aspen ?" "What is the capital of France ?" "x")
job p_res classify "$T/cls_res/model.safetensors" "${rtexts[@]}" $'then \xff'
job p_crlf eval "$T/lm/model.safetensors" "$T/crlf_bom.txt"
job p_nul eval "$T/lm/model.safetensors" "$T/nul.txt"
job p_bytes eval "$T/lm_byte/model.safetensors" "$T/bytes.txt"
job p_lmres eval "$T/lm_res/model.safetensors" "$T/crlf_bom.txt"
job p_lmres_dyn eval "$T/lm_res/model.safetensors" "$T/crlf_bom.txt" --dynamic 0.5 --dynamic-seg 10
job p_lmres_g greedy "$T/lm_res/model.safetensors" --prime "KING" --length 60
wtexts=("Who wrote HAMLET ?" "What's the <i>capital</i> of France?!" "<unk> <pad> <br />" "" "What is a 'dog' (canine) ?"
    $'\xc2\xabQui\xc3\xa9n\xc2\xbb \xe2\x80\x9cESCRIBI\xc3\x93\xe2\x80\x9d\xe2\x80\xa6 \xc2\xbfHamlet?'
    $'How   many\xc2\xa0Zyzzyvas are there\xe3\x80\x80in\xe2\x80\xa8\xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91, \xd0\x94\xd0\x9e\xd0\x9c ?')
job p_word classify "$T/cls_word/model.safetensors" "${wtexts[@]}"
job p_word_raw classify "$T/cls_word_raw/model.safetensors" "${wtexts[@]}"
job p_word_eval eval "$T/lm_word/model.safetensors" "$T/word.txt"
wprimes=($'KING RICHARD:\nWhat, my <b>LORD</b>' "First " "" $'First\xe3\x80\x80')
for i in 0 1 2 3; do job "p_word_g$i" greedy "$T/lm_word/model.safetensors" --prime "${wprimes[$i]}" --length 30; done
# --repeat-penalty, worked in PyTorch apart from sample.c: a window of 8 after a prime; all the text without one
job p_word_rp greedy "$T/lm_word/model.safetensors" --prime "${wprimes[0]}" --length 40 --repeat-penalty 1.5 --repeat-last 8
job p_word_rp0 greedy "$T/lm_word/model.safetensors" --length 40 --repeat-penalty 0.8 --repeat-last 0
# the tool's copy of rnn.c's punctuation table, and its whitespace, against src/tokenizer.c's
cat >"$T/mk_table.py" <<'PY'
import re, sys
sys.path.insert(0, sys.argv[1])
import rnnc_torch as R
src = open(sys.argv[2], encoding="utf-8").read()
rows = re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+)\}", re.search(r"punct_ranges\[\]\[2\] = \{(.*?)\};", src, re.S)[1])
c_punct = {c for a, b in rows for c in range(int(a, 16), int(b, 16) + 1) if c >= 0x80} | \
    {c for c in range(0x80) if 33 <= c <= 47 or 58 <= c <= 64 or 91 <= c <= 96 or 123 <= c <= 126}
every = "".join(map(chr, range(0x110000)))
py_punct = set(map(ord, re.findall(f"[{R.WORD_PUNCT}]", every)))
zs = re.search(r"static int is_zs\(uint32_t c\) \{(.*?)\}", src, re.S)[1]
assert "c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F" in " ".join(zs.split())
py_space = set(map(ord, re.findall(f"[{R.WORD_SPACE}]", every)))
c_space = {9, 10, 11, 12, 13, 0x20, 0x85, 0xA0, 0x1680, 0x200B, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF} | \
    set(range(0x2000, 0x200B))
print(len(c_punct), len(py_punct), sorted(c_punct ^ py_punct)[:10], sorted(c_space ^ py_space)[:10])
sys.exit(0 if c_punct == py_punct and c_space == py_space else 1)
PY
job mk_table "$T/mk_table.py" "$(dirname "$TOOL")" src/tokenizer.c
for dt in F16 BF16 F64; do job "p_$dt" eval "$T/lm_$dt.safetensors" "$T/crlf_bom.txt"; done
job p_noargs eval
job p_nocmd frobnicate
job p_badval eval "$T/lm/model.safetensors" "$T/crlf_bom.txt" --dynamic abc
job mk_pt "$T/mk_pt.py" "$ST_DIR" "$T"
job x_dp export "$T/dp.pt" "$T/cls_res.config.json" "$T/cls_res.tokenizer.json" "$T/dp.safetensors" \
    --labels "$T/cls_res.labels.json"
job x_wrapped export "$T/wrapped.pt" "$T/lm.config.json" "$T/lm.tokenizer.json" "$T/wrapped.safetensors"
job x_fresh export "$T/fresh.pt" "$T/fresh.config.json" "$T/fresh.tokenizer.json" "$T/fresh.safetensors"
job x_module export "$T/module.pt" "$T/lm.config.json" "$T/lm.tokenizer.json" "$T/module.safetensors"
job x_bad export "$T/dp.pt" "$T/cls_res.config.json" "$T/bad.tokenizer.json" "$T/bad.safetensors"
job x_labels export "$T/dp.pt" "$T/cls_res.config.json" "$T/cls_res.tokenizer.json" "$T/badl.safetensors" \
    --labels "$T/dup.labels.json"
job p_lb classify "$T/lb_bad.safetensors" "x"
runner p_lower p_lower_bad p_byte p_res p_crlf p_nul p_bytes p_lmres p_lmres_dyn p_lmres_g p_F16 p_BF16 p_F64 \
    p_noargs p_nocmd p_badval p_lb &
job x_sf_tied export "$T/sf_tied.safetensors" "$T/lm_res.config.json" "$T/lm_res.tokenizer.json" "$T/sf_tied.out.safetensors"
job x_sf_f16 export "$T/sf_F16.safetensors" "$T/lm.config.json" "$T/lm.tokenizer.json" "$T/sf_F16.out.safetensors"
job x_named export "$T/named.pt" "$T/cls_named.config.json" "$T/cls_named.tokenizer.json" "$T/named.safetensors" \
    --labels "$T/cls_named.labels.json" --label-base 0
job x_named_bad export "$T/named.pt" "$T/cls_named.config.json" "$T/cls_named.tokenizer.json" "$T/named_bad.safetensors" \
    --labels "$T/cls_named.labels.json" --label-base 2
job x_huge export "$T/huge.pt" "$T/fresh.config.json" "$T/fresh.tokenizer.json" "$T/huge.safetensors"
job p_huge eval "$T/huge.safetensors" "$T/fresh.txt"
job p_huge_cache eval "$T/huge.safetensors" "$T/fresh.txt" --cache 5 --cache-theta 0.5 --cache-lambda 0.3
runner mk_pt x_dp x_wrapped x_fresh x_module x_bad x_labels x_sf_tied x_sf_f16 x_named x_named_bad x_huge p_huge p_huge_cache p_word p_word_raw p_word_eval p_word_g0 p_word_g1 p_word_g2 p_word_g3 p_word_rp p_word_rp0 mk_table &
# a real process too: a checkpoint that is not there (the exit status and stderr are the interpreter's)
$PY "$TOOL" eval "$T/nonexistent.safetensors" "$T/crlf_bom.txt" >"$T/p_nofile.out" 2>"$T/p_nofile.err"
echo $? >"$T/p_nofile.rc"
wait

# --- checks
same_classify lower "$T/cls_lower/model.safetensors" \
    "a lowercase + strip-html char classifier gives rnn.c's probabilities (tags, capitals beyond ASCII)" "${texts[@]}"
same_classify lower_bad "$T/cls_lower/model.safetensors" \
    "invalid UTF-8 read as rnn.c replaces it (a U+FFFD per bad byte; none inside a tag)" "${bad_texts[@]}"
same_classify byte "$T/cls_byte/model.safetensors" "a byte classifier (bce, --max-len 10: the first 10 bytes) reads an empty text as one space, as rnn.c" \
    "${btexts[@]}"
same_classify res "$T/cls_res/model.safetensors" "a residual bidirectional 3-layer GRU classifier gives rnn.c's probabilities" \
    "${rtexts[@]}" $'then \xff'
check "classify: invalid UTF-8 (no replace) stops with rnn.c's message after the good lines" \
    "[ \$(rc p_res) -eq 1 ] && [ \$(wc -l <'$T/p_res.out') -eq 3 ] && grep -q 'text 4: input has invalid UTF-8 at byte offset 5\$' '$T/p_res.err' && grep -q 'text 4: input has invalid UTF-8 at byte offset 5\$' '$T/c_res.err'"
c=$(c_loss "$T/lm/model.safetensors" "$T/crlf_bom.txt"); p=$(loss "$T/p_crlf.out")
check "eval: a file with CRLF line ends and a BOM gives rnn.c's loss ($c vs $p)" "close '$c' '$p' 2e-5"
check "eval: a NUL byte in a char LM's text is refused as rnn.c refuses it" \
    "[ \$(rc p_nul) -eq 1 ] && grep -q 'a NUL byte at byte offset 3 (line 1)' '$T/p_nul.err' && $RNN eval '$T/lm/model.safetensors' --data '$T/nul.txt' 2>&1 | grep -q 'a NUL byte at byte offset 3 (line 1)'"
c=$(c_loss "$T/lm_byte/model.safetensors" "$T/bytes.txt"); p=$(loss "$T/p_bytes.out")
check "eval: a byte LM reads NUL, CR, invalid UTF-8 and a BOM as rnn.c ($c vs $p)" "close '$c' '$p' 2e-5"
c=$(c_loss "$T/lm_res/model.safetensors" "$T/crlf_bom.txt"); p=$(loss "$T/p_lmres.out")
check "eval: a residual tied 2-layer LSTM LM gives rnn.c's loss ($c vs $p)" "close '$c' '$p' 2e-5"
cd_=$(c_loss "$T/lm_res/model.safetensors" "$T/crlf_bom.txt" --dynamic 0.5 --dynamic-seg 10); pd=$(loss "$T/p_lmres_dyn.out")
check "eval --dynamic: the residual LM's carried state and gradients are rnn.c's ($cd_ vs $pd; static $c)" \
    "close '$cd_' '$pd' 2e-4 && ! close '$cd_' '$c' 1e-3"
cg=$($RNN sample "$T/lm_res/model.safetensors" --prime "KING" --length 60 --temperature 0 2>/dev/null)
check "greedy: the residual LM's text is rnn sample --temperature 0's" \
    "[ -n \"\$cg\" ] && [ \"\$cg\" = \"\$(cat '$T/p_lmres_g.out')\" ]"
same_classify word "$T/cls_word/model.safetensors" \
    "a word classifier (lowercase, split-punct, strip-html) gives rnn.c's probabilities (punctuation, capitals, Unicode spaces, unknown words, no words)" \
    "${wtexts[@]}"
same_classify word_raw "$T/cls_word_raw/model.safetensors" \
    "a word classifier without lowercase and split-punct, --max-len 6 --truncate tail, gives rnn.c's probabilities (\"<pad>\" typed in a text is <unk>)" \
    "${wtexts[@]}"
c=$(c_loss "$T/lm_word/model.safetensors" "$T/word.txt"); p=$(loss "$T/p_word_eval.out")
counts() { grep -o '"tokens": [0-9]*, "unk": [0-9]*' "$1"; }
$RNN eval "$T/lm_word/model.safetensors" --data "$T/word.txt" --json >"$T/c_word_eval.out" 2>/dev/null
check "eval: a word LM reads CRLF, HTML and punctuation as rnn.c, token for token ($c vs $p; $(counts "$T/c_word_eval.out"))" \
    "[ -n \"\$(counts '$T/c_word_eval.out')\" ] && [ \"\$(counts '$T/c_word_eval.out')\" = \"\$(counts '$T/p_word_eval.out')\" ] && close '$c' '$p' 2e-5"
for i in 0 1 2 3; do
    $RNN sample "$T/lm_word/model.safetensors" --prime "${wprimes[$i]}" --length 30 --temperature 0 >"$T/c_word_g$i.out" 2>/dev/null
done
check "greedy: a word LM's text is rnn sample --temperature 0's byte for byte (spaces, \"\\n\" tokens; a prime, one ending in a space, one in U+3000, none)" \
    "[ -s '$T/c_word_g0.out' ] && cmp -s '$T/c_word_g0.out' '$T/p_word_g0.out' && cmp -s '$T/c_word_g1.out' '$T/p_word_g1.out' && cmp -s '$T/c_word_g2.out' '$T/p_word_g2.out' && cmp -s '$T/c_word_g3.out' '$T/p_word_g3.out'"
$RNN sample "$T/lm_word/model.safetensors" --prime "${wprimes[0]}" --length 40 --temperature 0 --repeat-penalty 1.5 \
    --repeat-last 8 >"$T/c_word_rp.out" 2>/dev/null
$RNN sample "$T/lm_word/model.safetensors" --length 40 --temperature 0 --repeat-penalty 0.8 --repeat-last 0 \
    >"$T/c_word_rp0.out" 2>/dev/null
$RNN sample "$T/lm_word/model.safetensors" --prime "${wprimes[0]}" --length 40 --temperature 0 >"$T/c_word_plain.out" 2>/dev/null
check "greedy with --repeat-penalty 1.5 over the last 8 (after a prime) and 0.8 over all the text: PyTorch's text, byte for byte (and not the plain one)" \
    "[ -s '$T/c_word_rp.out' ] && cmp -s '$T/c_word_rp.out' '$T/p_word_rp.out' && cmp -s '$T/c_word_rp0.out' '$T/p_word_rp0.out' && ! cmp -s '$T/c_word_rp.out' '$T/c_word_plain.out'"
check "word tokenizer: the tool's punctuation and whitespace are src/tokenizer.c's (punct_ranges, is_zs)" \
    "[ \$(rc mk_table) -eq 0 ]"
# decoding writes punctuation against its words as rnn.c does (test_tokenizer.c's test_word_decode_punct)
check "word tokenizer: the tool decodes punctuation, quotes and apostrophes as rnn.c (\"he said (quietly), i'm here:\")" "$PY - <<'PY'
import sys
sys.path.insert(0, 'tools')
import rnnc_torch as r
texts = ['he said (quietly), i\'m here: \"yes\" [and] \'tis so\u2026 \u00abok\u00bb don\u2019t x-ray',
         'the teachers\' pomp', 'and \'tis so, for \'twas he', 'i\' the world, o\' the sea',
         'james\' car; don\'t, it\'s, i\'m, we\'ll', '\"hello,\" she said. \"no.\"', '\'hello', 'end\'', 'a \'\' b',
         'it costs 3.5 or 10,000, at 3:15. then 7 more', 'ne\'er o\'er e\'er ta\'en, know\'st thou\'rt i\'ld at ten o\'clock',
         'a well-known one-liner, so--and pages 3-4; - item', 'he yelled \'stop!\' and she said \'no\'.',
         'he said \"murder?\" -- then (see above) -- and [x] - y', 'she cried \'no\' -- and went',
         'i saw \'the matrix\' in the \'80s, rock n\' roll', 'nothin\' but 7/10 and/or \$5.99 for \$10,000',
         'left. <br /> <br /> the end </p>', 'it was \'great\' and this \'film\' is the boys\' best',
         'e.g. a u.s. film at 5 p.m. and plan b. a then i.e. i',
         'it\'s \'the\' best, that\'s \'fun\' and \`it\'s a wonderful life\' came out',
         'ol \'oscar\\nthen she said \'yes\' and \'no\'',
         'see www.imdb.com. it is at http://www.imdb.com/title/tt1337580 and imdb.com, '
         'www.archambault.ca or https://example.org/a.html; the catch. net profits; english only. html or boards',
         'linked to n.j. gov. says the u.s. gov\'t, not www.whitehouse.gov or http://x.gov/a']
tok = {'type': 'word', 'vocab': ['<pad>', '<unk>'], 'pad_id': 0, 'unk_id': 1, 'lowercase': True,
       'split_punct': True, 'strip_html': False, 'keep_newlines': True, 'min_count': 1, 'max_vocab': 0,
       'invalid_utf8': 'error'}
tok['vocab'] += sorted(set(r.word_tokens(tok, ' '.join(texts).encode())))
ok = True
for text in texts:  # (test_tokenizer.c's test_decode_apostrophes: each reads back as written, 'a \' \'b' aside)
    ids = r.encode(tok, text)
    got = r.decode(tok, ids).decode()
    want = {'a \'\' b': 'a\' \'b', 'left. <br /> <br /> the end </p>': 'left. <br/> <br/> the end </p>'}.get(text, text)
    ok &= got == want and r.encode(tok, got) == ids
ids = r.encode(tok, 'and \' tis')  # a prime that ends in an apostrophe, written already: the next word goes on it
ok &= r.detok(tok, ids[2:], ids[1]) == b'tis'
ids = r.encode(tok, 'he said \'stop and no\' and')  # a prime that opened a quotation: the sample closes it
ok &= r.detok(tok, ids[4:], ids[3], False, r.prime_squote_open(b\"he said 'stop\")) == b' and no\' and'
ok &= r.detok(tok, ids[4:], ids[3]) == b' and no \'and'
ok &= r.prime_squote_open(b\"he said '\") and r.prime_squote_open(b\"he said \`it\") and not r.prime_squote_open(b\"'no\\nok\")
sys.exit(not ok)
PY"
# net(ids), what torch.jit.trace and torch.onnx.export call: forward_lm's, and per text forward_classify's
check "net(ids) of a language model and of classifiers (attention with bce; a bidirectional residual GRU pooling last; meanmax) is the per-text forward, and traces" "$PY - '$T' <<'PY'
import sys, torch
sys.path.insert(0, 'tools')
import rnnc_torch as r
T = sys.argv[1]
ok = True
for name in ['lm_res', 'cls_byte', 'cls_res', 'cls_lower']:
    net = r.load(T + '/' + name + '/model.safetensors')[0]
    ids = torch.randint(2, net.c['vocab_size'], (3, 7))
    with torch.no_grad():
        got = net(ids)
        if net.c['task'] == 'lm':
            got, want = got[0], net.forward_lm(ids)[0]
        else:
            want = torch.stack([net.forward_classify(row.tolist())[0] for row in ids])
        traced = torch.jit.trace(net, ids, check_trace=False)(ids)
        traced = traced[0] if net.c['task'] == 'lm' else traced
    ok = ok and got.shape == want.shape and torch.allclose(got, want, atol=1e-6) and torch.allclose(traced, want, atol=1e-6)
sys.exit(not ok)
PY"
for dt in F16 BF16 F64; do
    c=$(c_loss "$T/lm_$dt.safetensors" "$T/crlf_bom.txt"); p=$(loss "$T/p_$dt.out")
    check "a checkpoint of $dt tensors: the tool reads it as rnn.c does ($c vs $p)" "[ -n '$c' ] && close '$c' '$p' 2e-5"
done
$PY -c 'import sys; sys.path.insert(0, sys.argv[1]); import st; st.load(sys.argv[2])' "$ST_DIR" "$T/lm_I8.safetensors" \
    >/dev/null 2>"$T/st_i8.err"
echo $? >"$T/st_i8.rc"
check "st.load: a dtype rnn.c does not read is a one-line error naming the file and the tensor" \
    "one_line_error st_i8 && grep -q \"lm_I8.safetensors: tensor '$(cat "$T/first_tensor")': unsupported dtype 'I8'\" '$T/st_i8.err'"
for f in st_hole st_overlap st_tail st_twice; do
    $PY -c 'import sys; sys.path.insert(0, sys.argv[1]); import st; st.load(sys.argv[2])' "$ST_DIR" "$T/$f.safetensors" \
        >/dev/null 2>"$T/$f.err"
    echo $? >"$T/$f.rc"
done
check "st.load refuses a hole in the data section, as rnn.c does, in one line naming the file and the tensor" \
    "one_line_error st_hole && grep -q \"st_hole.safetensors: 4 bytes of the data section before tensor 'b' \\[12, 20\\]\" '$T/st_hole.err' && ! $RNN info '$T/st_hole.safetensors' 2>/dev/null"
check "st.load refuses overlapping tensors, as rnn.c does" \
    "one_line_error st_overlap && grep -q \"st_overlap.safetensors: tensors 'a' \\[0, 8\\] and 'b' \\[4, 12\\] overlap\" '$T/st_overlap.err' && ! $RNN info '$T/st_overlap.safetensors' 2>/dev/null"
check "st.load refuses bytes after the last tensor, as rnn.c does" \
    "one_line_error st_tail && grep -q 'st_tail.safetensors: 3 bytes after the last tensor' '$T/st_tail.err' && ! $RNN info '$T/st_tail.safetensors' 2>/dev/null"
check "st.load refuses a tensor name given twice (json would keep the last), as rnn.c does" \
    "one_line_error st_twice && grep -q \"st_twice.safetensors: tensor 'a' appears twice\" '$T/st_twice.err' && ! $RNN info '$T/st_twice.safetensors' 2>/dev/null"
check "load: a label_base other than \"0\" or \"1\" is refused, as rnn.c refuses it" \
    "one_line_error p_lb && grep -q 'lb_bad.safetensors: metadata \"label_base\" must be \"0\" or \"1\" (got \"2\")' '$T/p_lb.err' && $RNN classify '$T/lb_bad.safetensors' x 2>&1 | grep -q 'label_base\" must be'"
check "no traceback: missing arguments" "one_line_error p_noargs && grep -q usage '$T/p_noargs.err'"
check "no traceback: a checkpoint that does not exist" "one_line_error p_nofile && grep -q 'nonexistent.safetensors' '$T/p_nofile.err'"
check "no traceback: an unknown command" "one_line_error p_nocmd && grep -q frobnicate '$T/p_nocmd.err'"
check "no traceback: a bad option value" "one_line_error p_badval && grep -q -- '--dynamic' '$T/p_badval.err'"
$RNN classify "$T/dp.safetensors" --json "${rtexts[@]}" >"$T/c_dp.out" 2>/dev/null
check "export: a DataParallel state_dict ('module.' names) is stripped, said so, and rnn.c gives the same probabilities" \
    "[ \$(rc x_dp) -eq 0 ] && grep -q 'module.' '$T/x_dp.err' && $RNN info '$T/dp.safetensors' >/dev/null && same_probs '$T/c_res.out' '$T/c_dp.out' 0"
c=$(c_loss "$T/lm/model.safetensors" "$T/crlf_bom.txt"); w=$(c_loss "$T/wrapped.safetensors" "$T/crlf_bom.txt")
check "export: a training script's {'state_dict': ...} (float64) is unwrapped, said so, and gives the same loss ($c vs $w)" \
    "[ \$(rc x_wrapped) -eq 0 ] && grep -q 'state_dict' '$T/x_wrapped.err' && $RNN info '$T/wrapped.safetensors' >/dev/null && [ -n '$w' ] && [ '$w' = '$c' ]"
f=$(c_loss "$T/fresh.safetensors" "$T/fresh.txt")
check "export: a PyTorch-made model with the docstring's hand-written char tokenizer loads in rnn.c ($f vs $(cat "$T/fresh.loss" 2>/dev/null))" \
    "[ \$(rc x_fresh) -eq 0 ] && $RNN info '$T/fresh.safetensors' >/dev/null && close '$f' \"\$(cat '$T/fresh.loss')\" 2e-5"
check "export: a pickled whole module is a one-line message, not a traceback" \
    "one_line_error x_module && grep -q 'module.pt: .*not a state_dict' '$T/x_module.err' && [ ! -e '$T/module.safetensors' ]"
check "export: a char tokenizer without \"lowercase\" is refused" \
    "[ \$(rc x_bad) -eq 1 ] && grep -q 'bad.tokenizer.json: .*missing \"lowercase\"' '$T/x_bad.err'"
check "export: a tokenizer key with a damaged name is refused, as rnn.c refuses it" \
    "[ \$(rc x_bad) -eq 1 ] && grep -q 'bad.tokenizer.json: tokenizer: unknown key \"strip_htmL\" (a damaged file' '$T/x_bad.err'"
check "export: a vocabulary of the wrong size is refused" \
    "[ \$(rc x_bad) -eq 1 ] && grep -q 'bad.tokenizer.json: .*vocab.* tokens but .*vocab_size' '$T/x_bad.err'"
check "export: a classifier without --labels is refused; one line per problem, nothing written" \
    "[ \$(rc x_bad) -eq 1 ] && grep -q 'bad.safetensors: a classifier needs --labels' '$T/x_bad.err' && [ \$(grep -vc '^rnnc_torch.py export: ' '$T/x_bad.err') -eq 4 ] && [ ! -e '$T/bad.safetensors' ]"
check "export: a class name given twice is refused" \
    "[ \$(rc x_labels) -eq 1 ] && grep -q 'dup.labels.json: .*given twice' '$T/x_labels.err' && [ ! -e '$T/badl.safetensors' ]"
c=$(c_loss "$T/lm_res/model.safetensors" "$T/crlf_bom.txt"); e=$(c_loss "$T/sf_tied.out.safetensors" "$T/crlf_bom.txt")
check "export: a safetensors state_dict (save_model's: {\"format\": \"pt\"}, the tied head.weight left out) gives the checkpoint's tensors bit for bit ($c vs $e)" \
    "[ \$(rc x_sf_tied) -eq 0 ] && [ -n '$e' ] && [ '$e' = '$c' ] && $PY - '$ST_DIR' '$T/lm_res/model.safetensors' '$T/sf_tied.out.safetensors' <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import st
a, b = st.load(sys.argv[2])[0], st.load(sys.argv[3])[0]
sys.exit(not (sorted(a) == sorted(b) and all(a[k].tobytes() == b[k].tobytes() for k in a)))
PY"
check "rnn.c refuses the plain safetensors state_dict, naming the tool that converts it" \
    "$RNN info '$T/sf_tied.safetensors' 2>&1 >/dev/null | grep -q 'sf_tied.safetensors: not an rnn.c checkpoint (metadata \"format\" is \"pt\"; tools/rnnc_torch.py'"
c=$(c_loss "$T/lm_F16.safetensors" "$T/crlf_bom.txt"); e=$(c_loss "$T/sf_F16.out.safetensors" "$T/crlf_bom.txt")
check "export: an F16 safetensors state_dict is read as rnn.c reads F16 ($c vs $e)" \
    "[ \$(rc x_sf_f16) -eq 0 ] && [ -n '$e' ] && [ '$e' = '$c' ]"
c=$(c_loss "$T/cls_named/model.safetensors" "$T/sst2.tsv" --label-col 1 --text-col 2)
e=$(c_loss "$T/named.safetensors" "$T/sst2.tsv" --label-col 1 --text-col 2)
check "export --label-base 0: rnn eval reads the data's integer labels without --label-names, as from the original ($c vs $e)" \
    "[ \$(rc x_named) -eq 0 ] && [ -n '$e' ] && [ '$e' = '$c' ]"
check "export: a --label-base other than 0 or 1 is refused, nothing written" \
    "[ \$(rc x_named_bad) -eq 1 ] && grep -q -- '--label-base must be 0 or 1' '$T/x_named_bad.err' && [ ! -e '$T/named_bad.safetensors' ]"
c=$(c_loss "$T/huge.safetensors" "$T/fresh.txt"); p=$(loss "$T/p_huge.out")
check "eval: a loss past exp's range gives perplexity null, as rnn eval --json ($c vs $p)" \
    "[ \$(rc p_huge) -eq 0 ] && grep -q '\"perplexity\": null' '$T/p_huge.out' && $RNN eval '$T/huge.safetensors' --data '$T/fresh.txt' --json | grep -q '\"perplexity\": null' && close '$c' '$p' 1e-2"
c=$(c_loss "$T/huge.safetensors" "$T/fresh.txt" --cache 5 --cache-theta 0.5 --cache-lambda 0.3); p=$(loss "$T/p_huge_cache.out")
check "eval --cache: probabilities far below float's (and double's) range mixed in the log domain, as rnn eval, not cut off at 708 nats ($c vs $p)" \
    "[ \$(rc p_huge_cache) -eq 0 ] && [ -n '$c' ] && close '$c' '$p' 1e-3 && $PY -c 'import sys; sys.exit(not float(sys.argv[1]) > 800)' '$c'"
summary
