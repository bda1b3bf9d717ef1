#!/usr/bin/env python3
"""rnnc_torch.py: rnn.c checkpoints <-> PyTorch, with the PyTorch twin of an rnn.c model
(docs/checkpoints.md is the format's reference).

An rnn.c checkpoint is a safetensors file whose tensor names are the
state_dict() names of `Net` below, so `Net(config).load_state_dict(...)` works
on it. This script (needs only torch and numpy, e.g. Debian's python3-torch):

  rnnc_torch.py eval CKPT TEXTFILE [--cache N] [--cache-theta X] [--cache-lambda X] [--dynamic LR ...]
      next-token cross-entropy of a language model over the file (read as one
      sequence from a zero state, every token but the first predicted), as
      `rnn eval CKPT --data TEXTFILE --json` computes it; prints JSON. The file
      is read as rnn.c reads it: as bytes ("\\r" kept), a leading UTF-8 byte
      order mark skipped, invalid UTF-8 (or a NUL byte) an error for a char or
      word model unless its tokenizer says "invalid_utf8": "replace"; a backward
      (reverse) model reads it right to left. eval applies the checkpoint's
      neural cache (config cache_size, cache_theta, cache_lambda) as `rnn eval`
      does; --cache N, --cache-theta X and --cache-lambda X override it. With
      --dynamic LR [--dynamic-seg N] [--dynamic-decay X] [--dynamic-clip X]
      [--dynamic-rms B] it is dynamic evaluation, as `rnn eval --dynamic` (with
      the cache, if any, mixed into the scores as there).
  rnnc_torch.py greedy CKPT [--prime TEXT] [--length N] [--repeat-penalty X [--repeat-last N]]
                        [--cache N ...] [--dynamic LR ...]
      greedy generation, as `rnn sample CKPT --temperature 0` (never <pad>; a
      byte model's text held to valid UTF-8; a word model's words spaced as
      rnn.c spaces them, byte for byte); with --dynamic (and the
      --dynamic-* settings of eval) after adapting to the prime. Like `rnn
      sample`, it uses a cache only with --cache N (theta and lambda from the
      config or flags).
  rnnc_torch.py export STATE_DICT.pt CONFIG.json TOKENIZER.json OUT.safetensors [--labels LABELS.json [--label-base 0|1]]
      writes a PyTorch state_dict (torch.save of Net(...).state_dict(), or a
      safetensors file of it: safetensors.torch.save_file or save_model) as an
      rnn.c checkpoint: CONFIG.json is the "config" object of docs/checkpoints.md,
      TOKENIZER.json the "tokenizer" object (e.g. from another rnn.c checkpoint
      or hand-written for a char vocabulary: {"type": "char", "vocab": ["<pad>",
      "<unk>", "a", "b", ...], "pad_id": 0, "unk_id": 1, "lowercase": false}),
      LABELS.json (classifiers) a JSON array of the class names, --label-base
      the checkpoint's "label_base" (0 or 1: a classifier trained with
      --label-names on data that number their classes, so that rnn eval reads
      them without the names file). Everything is checked as rnn.c checks it
      before anything is written (one line per problem, exit status 1). A
      state_dict of a torch.nn.DataParallel model (names prefixed "module.")
      is accepted, as is a training script's dict holding it under
      "state_dict", "model_state_dict" or "model".
  rnnc_torch.py classify CKPT TEXT...
      class probabilities of a classifier, one JSON line per text, as
      `rnn classify CKPT --json TEXT...` prints them (with no TEXT, one text
      per line of stdin).
  rnnc_torch.py make-fixture OUT.safetensors
      a PyTorch-made char LSTM language model plus the eval loss and greedy
      text PyTorch computes for it (the test of the PyTorch -> rnn.c direction).
  rnnc_torch.py make-cls-fixture OUT.safetensors
      the same for a bidirectional 2-layer GRU classifier with attention
      pooling: texts and PyTorch's class probabilities in its metadata.

Python tokenization here covers the char, byte and word tokenizers, exactly
as src/tokenizer.c does them (char and word: strip_html, lowercase by the C
library's towlower in C.UTF-8 as rnn.c, invalid_utf8; word also: whitespace
as rnn.c's, i.e. ASCII, Zs, U+0085, U+200B, U+2028, U+2029 and U+FEFF,
keep_newlines' "\\n" tokens, split_punct by ASCII ispunct and rnn.c's own
table of the Unicode 14 P* code points, and a "<pad>" or "<unk>" in the text
read as <unk>), and decodes them as rnn.c does (a word model's pieces: " " +
word, none at the start, after "\\n" or <pad>, nor before "\\n"; with
split_punct punctuation against its words, "i'm here."); wordpiece
needs rnn.c itself.

The twin implements every config key that changes what a model computes at
inference (cell, layers, bidirectional, residual, tie_weights, pool,
attention_dim, loss, max_len and truncate, reverse, the cache_* settings). The training-only ones
(dropout, embed_dropout, head_dropout, weight_drop, recurrent_dropout,
locked_dropout, forget_bias, padding_id) change nothing in evaluation; of
them, Net applies only dropout (between layers, in train mode).
"""
import codecs
import copy
import json
import math
import os
import re
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
import st  # noqa: E402  (the tiny safetensors reader/writer)

# ---------------------------------------------------------------------------
# The config (src/model.c: rnn_config_from_json, rnn_config_validate)

CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu", "none")
POOLS = ("last", "mean", "max", "meanmax", "attention")
CONFIG_DEFAULTS = {  # rnn_config_default: what a key that is absent means
    "bidirectional": False, "dropout": 0.0, "embed_dropout": 0.0, "weight_drop": 0.0,
    "recurrent_dropout": 0.0, "locked_dropout": False, "residual": False, "padding_id": -1,
    "forget_bias": 0.0, "tie_weights": False, "reverse": False, "cache_size": 0, "cache_theta": 0.3,
    "cache_lambda": 0.2, "pool": "meanmax", "attention_dim": 64, "num_classes": 2, "loss": "ce",
    "head_dropout": 0.0, "max_len": 0, "truncate": "head"}
CONFIG_INTS = ("vocab_size", "embed_dim", "hidden_dim", "num_layers", "padding_id", "cache_size",
               "attention_dim", "num_classes", "max_len")
CONFIG_REQUIRED = ("task", "cell", "vocab_size", "embed_dim", "hidden_dim", "num_layers")
CONFIG_BOOLS = ("bidirectional", "locked_dropout", "residual", "tie_weights", "reverse")
CONFIG_FLOATS = ("dropout", "embed_dropout", "weight_drop", "recurrent_dropout", "forget_bias", "cache_theta",
                 "cache_lambda", "head_dropout")
CONFIG_KEYS = ("task", "cell", "pool", "loss", "truncate") + CONFIG_INTS + CONFIG_BOOLS + CONFIG_FLOATS
FLT_MAX = 3.4028234663852886e38
MAX_LAYERS, CACHE_MAX_SIZE, CACHE_MAX_THETA, MAX_TEXT_LEN = 8, 1000000, 1e6, 1073741823


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def f32(x):
    """x rounded to float32, as rnn.c stores a float setting."""
    return float(np.float32(x))


def config_problems(c):
    """What rnn.c (rnn_config_from_json, then rnn_config_validate) refuses in
    config c, one message per problem; [] if it loads."""
    if not isinstance(c, dict):
        return ["config: not a JSON object"]
    p = []
    for k in c:
        if k not in CONFIG_KEYS:
            p.append(f"config: unknown key \"{k}\" (rnn.c reads only {', '.join(CONFIG_KEYS)})")
    for k in CONFIG_REQUIRED + (("num_classes",) if c.get("task") == "classify" else ()):
        if k not in c:
            p.append(f"config: missing \"{k}\"")
    if "task" in c and c["task"] not in ("lm", "classify"):
        p.append("config: \"task\" must be \"lm\" or \"classify\"")
    if "cell" in c and c["cell"] not in CELLS:
        p.append(f"config: unknown cell {json.dumps(c['cell'])} (expected lstm, gru, rnn_tanh, rnn_relu or none)")
    for k in CONFIG_INTS:
        v = c.get(k)
        if k in c and not (_is_num(v) and -2**31 <= v < 2**31 and v == int(v)):
            p.append(f"config: \"{k}\" must be an integer of at most 10 digits")
    for k in CONFIG_BOOLS:
        if k in c and not isinstance(c[k], bool):
            p.append(f"config: \"{k}\" must be true or false")
    for k in CONFIG_FLOATS:
        if k in c and not (_is_num(c[k]) and abs(c[k]) <= FLT_MAX):
            p.append(f"config: \"{k}\" must be a finite number")
    # rnn.c reads a pool or loss that is not a string as absent (the default): refused here
    if "pool" in c and c["pool"] not in POOLS:
        p.append(f"config: unknown pooling {json.dumps(c['pool'])} (expected last, mean, max, meanmax or attention)")
    if "loss" in c and c["loss"] not in ("ce", "bce"):
        p.append("config: \"loss\" must be \"ce\" or \"bce\"")
    if "truncate" in c and c["truncate"] not in ("head", "tail"):
        p.append("config: \"truncate\" must be \"head\" or \"tail\"")
    if c.get("task") == "classify" and c.get("pool") == "attention" and "attention_dim" not in c:
        p.append("config: an attention-pooling classifier needs \"attention_dim\"")  # it sets attention.*'s shapes
    if p:
        return p
    c = config_with_defaults(c)
    W, lm, rec = 1 << 20, c["task"] == "lm", c["cell"] != "none"

    def rng(key, lo, hi, flag=None):
        if not lo <= c[key] <= hi:
            p.append(f"config: {key}{' (--' + flag + ')' if flag else ''} must be in [{lo}, {hi}] (got {c[key]})")
    rng("vocab_size", 1, 1 << 26)
    rng("embed_dim", 1, W, "embed")
    if rec:
        rng("hidden_dim", 1, W, "hidden")
        rng("num_layers", 1, MAX_LAYERS, "layers")
    elif lm:
        p.append("config: a language model needs a recurrent cell (cell none is for classifiers)")
    if not lm:
        rng("num_classes", 2, W)
        if c["pool"] == "attention":
            rng("attention_dim", 1, W, "attention-dim")
    for k in ("dropout", "embed_dropout", "head_dropout", "weight_drop", "recurrent_dropout"):
        if not 0 <= f32(c[k]) < 1:  # as rnn.c stores it: 0.99999999 is 1 in a float
            p.append(f"config: {k} (--{k.replace('_', '-')}) must be in [0, 1) (got {c[k]})")
    if c["recurrent_dropout"] > 0 and c["cell"] not in ("lstm", "gru"):
        p.append(f"config: recurrent_dropout (--recurrent-dropout) needs an lstm or gru cell (got cell {c['cell']})")
    if c["reverse"] and not lm:
        p.append("config: reverse (--reverse) is for language models")
    if c["locked_dropout"] and not lm:
        p.append("config: locked_dropout (--locked-dropout) is for language models")
    if c["bidirectional"] and lm:
        p.append("config: a language model cannot be bidirectional (--bidirectional)")
    if c["tie_weights"]:
        if not lm:
            p.append("config: tie_weights is for language models")
        elif c["hidden_dim"] != c["embed_dim"]:
            p.append(f"config: tie_weights (--tie-weights) needs embed_dim (--embed) equal to hidden_dim "
                     f"(--hidden): got {c['embed_dim']} and {c['hidden_dim']}")
    if c["cache_size"]:
        if not lm:
            p.append("config: cache_size (--cache) is for language models")
        else:
            rng("cache_size", 0, CACHE_MAX_SIZE)
    # theta and lambda whatever cache_size is: rnn eval --cache N takes them from the checkpoint
    if not 0 <= f32(c["cache_theta"]) <= CACHE_MAX_THETA:
        p.append(f"config: \"cache_theta\" must be in [0, {CACHE_MAX_THETA:g}] (got {c['cache_theta']})")
    if not 0 <= f32(c["cache_lambda"]) < 1:
        p.append(f"config: \"cache_lambda\" must be in [0, 1) (got {c['cache_lambda']})")
    if not -1 <= c["padding_id"] < c["vocab_size"]:
        p.append(f"config: padding_id {c['padding_id']} outside the vocabulary")
    rng("max_len", 0, MAX_TEXT_LEN, "max-len")
    if (c["max_len"] or c["truncate"] == "tail") and lm:
        p.append("config: max_len and truncate (--max-len, --truncate) are for classifiers")
    if c["truncate"] == "tail" and not c["max_len"]:
        p.append("config: truncate \"tail\" needs max_len, the tokens it keeps")
    if not lm and c["loss"] == "bce" and c["num_classes"] != 2:
        p.append(f"config: loss bce needs exactly 2 classes (got {c['num_classes']})")
    if not p:  # the largest matrices (at most 2^31 - 1 values each)
        E, H, G = c["embed_dim"], c["hidden_dim"], {"lstm": 4, "gru": 3}.get(c["cell"], 1)
        F = (2 if c["bidirectional"] else 1) * H if rec else E
        head_in = F if lm else (2 * F if c["pool"] == "meanmax" else F)
        big = [("the embedding", c["vocab_size"] * E), ("a recurrent layer", G * H * max(E, F) if rec else 0),
               ("the attention layer", c["attention_dim"] * F if not lm and c["pool"] == "attention" else 0),
               ("the output layer", (c["vocab_size"] if lm else c["num_classes"]) * head_in)]
        for what, n in big:
            if n > 2**31 - 1:
                p.append(f"config: model too large: {what} would hold {n} values (at most {2**31 - 1} per matrix)")
    return p


def config_with_defaults(c):
    """c with rnn.c's default for every key it leaves out (ints as int)."""
    out = dict(CONFIG_DEFAULTS)
    out.update(c)
    for k in CONFIG_INTS:
        if k in out and _is_num(out[k]) and -2**31 <= out[k] < 2**31:
            out[k] = int(out[k])
    return out


# ---------------------------------------------------------------------------
# The tokenizer object (src/tokenizer.c: rnn_tokenizer_from_json)

TOK_TYPES = ("char", "byte", "word", "wordpiece")
TOK_KEYS = ("type", "vocab", "pad_id", "unk_id", "cls_id", "sep_id", "mask_id", "lowercase", "split_punct",
            "strip_html", "keep_newlines", "min_count", "max_vocab", "invalid_utf8")


def byte_spelling(b):
    return chr(b) if 0 < b < 0x80 else f"<0x{b:02X}>"


def tokenizer_problems(tok):
    """What rnn_tokenizer_from_json refuses in tok, one message per problem."""
    M = "tokenizer: "
    if not isinstance(tok, dict):
        return [M + "not a JSON object"]
    t = tok.get("type")
    if "type" not in tok:
        return [M + "missing \"type\""]
    if t not in TOK_TYPES:
        return [M + "\"type\" must be \"char\", \"byte\", \"word\" or \"wordpiece\""]
    # a damaged name ("strip_htmL") would read as the option's default and encode text differently
    p = [M + f"unknown key {json.dumps(k)} (a damaged file, or one from a newer rnn.c; rnn.c reads only "
         f"{', '.join(TOK_KEYS)})" for k in tok if k not in TOK_KEYS]
    required = {"lowercase": t != "byte", "split_punct": t == "word", "strip_html": t in ("word", "wordpiece"),
                "keep_newlines": t == "word"}
    for k, req in required.items():
        if k not in tok:
            if req:
                p.append(M + f"missing \"{k}\" (true or false; a {t} tokenizer needs it)")
        elif not isinstance(tok[k], bool):
            p.append(M + f"\"{k}\" must be true or false")
    for k, lo in (("min_count", 1), ("max_vocab", 0)):
        v = tok.get(k)
        if k in tok and not (_is_num(v) and lo <= v <= 2**31 - 1 and v == int(v)):
            p.append(M + f"\"{k}\" must be an integer in [{lo}, {2**31 - 1}]")
    if t in ("char", "word") and _is_num(tok.get("max_vocab")) and 0 < tok["max_vocab"] <= 2:
        p.append(M + "max_vocab must be 0 (no limit) or more than the 2 special tokens")
    if "invalid_utf8" in tok and tok["invalid_utf8"] not in ("error", "replace"):
        p.append(M + "\"invalid_utf8\" must be \"error\" or \"replace\"")
    vocab = tok.get("vocab")
    if "vocab" not in tok:
        return p + [M + "missing \"vocab\""]
    if not isinstance(vocab, list) or not vocab:
        return p + [M + "\"vocab\" must be a non-empty array of strings"]
    seen = {}
    for i, s in enumerate(vocab):
        if not isinstance(s, str):
            p.append(M + f"vocab[{i}] is not a string")
        elif not s or "\0" in s or any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
            p.append(M + f"vocab[{i}] is {'empty' if not s else 'not valid UTF-8'}")
        elif s in seen:
            p.append(M + f"duplicate token {json.dumps(s[:60])} (vocab[{seen[s]}] and vocab[{i}])")
        else:
            seen[s] = i
    if p:
        return p
    ids = {}
    for k in ("pad_id", "unk_id"):
        v = tok.get(k)
        if k not in tok:
            p.append(M + f"missing \"{k}\"")
        elif not (_is_num(v) and -1 <= v <= len(vocab) - 1 and v == int(v)):
            p.append(M + f"\"{k}\" must be an integer in [-1, {len(vocab) - 1}]")
        else:
            ids[k] = int(v)
    if p:
        return p
    pad, unk = ids["pad_id"], ids["unk_id"]
    if t == "byte":
        if len(vocab) != 256:
            p.append(M + f"a byte vocab has 256 tokens, not {len(vocab)}")
        else:
            p += [M + f"byte vocab[{b}] must be {json.dumps(byte_spelling(b))}" for b in range(256)
                  if vocab[b] != byte_spelling(b)][:3]
        if pad != -1 or unk != -1:
            p.append(M + "the byte tokenizer has no specials: pad_id and unk_id must be -1")
    elif t in ("char", "word"):
        if pad < 0 or vocab[pad] != "<pad>":
            p.append(M + "pad_id must name the \"<pad>\" token")
        if unk < 0 or vocab[unk] != "<unk>":
            p.append(M + "unk_id must name the \"<unk>\" token")
        if t == "char":
            p += [M + f"char vocab[{i}] is not a single code point" for i, s in enumerate(vocab)
                  if i not in (pad, unk) and len(s) != 1][:3]
    else:
        if unk < 0 or vocab[unk] != "[UNK]":
            p.append(M + "unk_id must name the \"[UNK]\" token")
        if pad != seen.get("[PAD]", -1):
            p.append(M + "pad_id must name the \"[PAD]\" token (-1 if there is none)")
        for k, name in (("cls_id", "[CLS]"), ("sep_id", "[SEP]"), ("mask_id", "[MASK]")):
            if k in tok and tok[k] != seen.get(name, -1):
                p.append(M + f"\"{k}\" must name the \"{name}\" token (-1 if there is none)")
        if tok.get("keep_newlines") is True and "\n" not in seen:
            p.append(M + "a wordpiece vocabulary with keep_newlines has no \"\\n\" token")
    return p


def label_problems(labels, c):
    """What rnn.c's checkpoint loader refuses in a classifier's class names."""
    n = c["num_classes"]
    if not isinstance(labels, list) or len(labels) != n:
        got = f"{len(labels)} names" if isinstance(labels, list) else "not a JSON array"
        return [f"labels: must be a JSON array of the {n} class names (num_classes {n}"
                f"{', loss bce' if c.get('loss') == 'bce' else ''}): got {got}"]
    p = []
    for i, s in enumerate(labels):
        if not isinstance(s, str):
            p.append(f"labels: label {i} is not a string")
        elif not s:
            p.append(f"labels: label {i} is empty")
        elif any(ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF for ch in s):
            p.append(f"labels: label {i} holds a control character or is not valid UTF-8")
    names = [s for s in labels if isinstance(s, str)]
    for s in sorted(set(s for s in names if names.count(s) > 1)):
        p.append(f"labels: the class name {json.dumps(s)} is given twice")
    return p


# ---------------------------------------------------------------------------
# Text -> token ids, as src/tokenizer.c (char, byte and word)

class TextError(Exception):
    """Text the tokenizer refuses (rnn.c's message, without the file's name)."""


def _fffd_per_byte(e):
    """rnn_utf8_next: a byte that does not start a valid sequence is one U+FFFD,
    and reading goes on at the next byte (Python's "replace" would swallow a
    truncated sequence's bytes into one)."""
    if isinstance(e, UnicodeDecodeError):
        return "\ufffd", e.start + 1
    raise e


codecs.register_error("rnnc-fffd-per-byte", _fffd_per_byte)


def utf8_error(data, at):
    """rnn_utf8_error's message for the bad byte at offset at of data."""
    what = "a NUL byte" if data[at] == 0 else "invalid UTF-8"
    if b"\n" not in data:
        return f"input has {what} at byte offset {at}"
    line = data.count(b"\n", 0, at) + 1
    return f"input has {what} at byte offset {at} (line {line})"


def _decode(data, start, end, replace):
    """data[start:end] as code points with the invalid_utf8 policy; NUL, which
    no token can hold, counts as invalid (rnn_utf8_next)."""
    seg = data[start:end]
    if replace:
        return seg.decode("utf-8", "rnnc-fffd-per-byte").replace("\0", "\ufffd")
    nul = seg.find(b"\0")
    try:
        s = seg.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TextError(utf8_error(data, start + (min(e.start, nul) if nul >= 0 else e.start)))
    if nul >= 0:
        raise TextError(utf8_error(data, start + nul))
    return s


def html_tag_end(s, i):
    """If s[i] == '<' starts an HTML tag, the index just past its '>', else 0:
    "<", an optional "/" or "!", an ASCII letter (any byte after "!"), then bytes
    up to the first ">" with no "<" before it, at most 512 bytes in all."""
    n, j = len(s), i + 1
    if j < n and s[j] == 0x21:  # "!"
        j += 1
    else:
        if j < n and s[j] == 0x2F:  # "/"
            j += 1
        if j >= n or not (0x41 <= s[j] <= 0x5A or 0x61 <= s[j] <= 0x7A):
            return 0
    while j < n and j - i < 512:
        if s[j] == 0x3E:
            return j + 1
        if s[j] == 0x3C:
            return 0
        j += 1
    return 0


def _make_lower():
    """tokenizer.c's to_lower: ASCII A-Z directly; any other code point by
    towlower_l() in a "C.UTF-8" (or "C.utf8", "en_US.UTF-8") locale; where no such
    locale exists, its built-in table. Reached through ctypes, so that it is the
    same C library function rnn.c calls; Python's own lower() (one code point
    to one, U+0130 to "i") where the C library cannot be reached."""
    try:
        import ctypes
        import ctypes.util
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        newlocale, towlower_l = libc.newlocale, libc.towlower_l
        newlocale.restype, newlocale.argtypes = ctypes.c_void_p, [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]
        towlower_l.restype, towlower_l.argtypes = ctypes.c_uint32, [ctypes.c_uint32, ctypes.c_void_p]
        mask = 2 if sys.platform == "darwin" else 1  # LC_CTYPE_MASK
        loc = None
        for name in (b"C.UTF-8", b"C.utf8", b"en_US.UTF-8"):
            loc = loc or newlocale(mask, name, None)
        if loc:
            return lambda c: (lambda l: l if l <= 0x10FFFF else c)(towlower_l(c, loc))
        return _lower_fallback
    except (OSError, AttributeError, TypeError):
        def py_lower(c):
            s = chr(c).lower()
            return ord(s) if len(s) == 1 else 0x69 if c == 0x130 else c
        return py_lower


def _lower_fallback(c):
    """tokenizer.c's lower_fallback (no UTF-8 locale)."""
    if 0xC0 <= c <= 0xDE and c != 0xD7:
        return c + 32
    if c == 0x130:
        return 0x69
    if 0x100 <= c <= 0x137 or 0x14A <= c <= 0x177:
        return c | 1
    if 0x139 <= c <= 0x148 or 0x179 <= c <= 0x17E:
        return c + 1 if c & 1 else c
    if c == 0x178:
        return 0xFF
    if 0x391 <= c <= 0x3AB and c != 0x3A2:
        return c + 32
    if c == 0x386:
        return 0x3AC
    if 0x388 <= c <= 0x38A:
        return c + 37
    if c == 0x38C:
        return 0x3CC
    if c in (0x38E, 0x38F):
        return c + 63
    if 0x410 <= c <= 0x42F:
        return c + 32
    if 0x400 <= c <= 0x40F:
        return c + 80
    return c


_lower_cp = None


def lowercase(s):
    """Each code point of s lowered, one to one, as rnn.c's char tokenizer."""
    global _lower_cp
    if _lower_cp is None:
        _lower_cp = _make_lower()
    table = {}
    for ch in set(s):
        c = ord(ch)
        l = c + 32 if 0x41 <= c <= 0x5A else c if c < 0x80 else _lower_cp(c)
        if l != c:
            table[c] = l
    return s.translate(table) if table else s


def as_bytes(text):
    """A text as the bytes rnn.c would get: bytes as they are; a str as UTF-8,
    with the bytes Python decoded from argv as surrogate escapes given back."""
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def char_text(tok, data, lower=True):
    """The code points a char tokenizer maps, from the bytes data: each HTML tag
    one space (strip_html), the rest decoded (invalid_utf8), then lowercase
    (if the tokenizer says so and lower)."""
    replace = tok.get("invalid_utf8") == "replace"
    parts, start, i = [], 0, 0
    if tok.get("strip_html"):
        while True:
            i = data.find(b"<", i)
            if i < 0:
                break
            end = html_tag_end(data, i)
            if end:
                parts += [_decode(data, start, i, replace), " "]
                start = i = end
            else:
                i += 1
    parts.append(_decode(data, start, len(data), replace))
    s = "".join(parts)
    return lowercase(s) if lower and tok.get("lowercase") else s


def _ranges(spec):
    """Hex code point ranges ("A1 B6-B7 ...") -> the body of a regular expression character class."""
    out = []
    for r in spec.split():
        lo, _, hi = r.partition("-")
        out.append(f"\\U{int(lo, 16):08X}" + (f"-\\U{int(hi, 16):08X}" if hi else ""))
    return "".join(out)


# The word tokenizer's whitespace (tokenizer.c is_word_space): ASCII " " and
# \t \n \v \f \r (not \x1c-\x1f, which Python's str.split() takes), U+0085,
# U+200B, U+2028, U+2029, U+FEFF and Zs (is_zs, Unicode 14: U+0020, U+00A0,
# U+1680, U+2000-U+200A, U+202F, U+205F, U+3000).
WORD_SPACE = _ranges("9-D 20 85 A0 1680 2000-200A 200B 2028 2029 202F 205F 3000 FEFF")
# Its punctuation (tokenizer.c is_punct): ASCII ispunct (33-47, 58-64, 91-96,
# 123-126, so also $+<=>^`|~), and above ASCII the Unicode 14 P* code points:
# tokenizer.c's punct_ranges, copied here (not Python's unicodedata, whose
# Unicode version follows the interpreter's) as hex ranges from U+0080 on.
WORD_PUNCT = _ranges("21-2F 3A-40 5B-60 7B-7E") + _ranges("""
    A1 A7 AB B6-B7 BB BF 37E 387 55A-55F 589-58A 5BE 5C0 5C3 5C6 5F3-5F4 609-60A 60C-60D 61B 61D-61F 66A-66D
    6D4 700-70D 7F7-7F9 830-83E 85E 964-965 970 9FD A76 AF0 C77 C84 DF4 E4F E5A-E5B F04-F12 F14 F3A-F3D F85
    FD0-FD4 FD9-FDA 104A-104F 10FB 1360-1368 1400 166E 169B-169C 16EB-16ED 1735-1736 17D4-17D6 17D8-17DA
    1800-180A 1944-1945 1A1E-1A1F 1AA0-1AA6 1AA8-1AAD 1B5A-1B60 1B7D-1B7E 1BFC-1BFF 1C3B-1C3F 1C7E-1C7F
    1CC0-1CC7 1CD3 2010-2027 2030-2043 2045-2051 2053-205E 207D-207E 208D-208E 2308-230B 2329-232A 2768-2775
    27C5-27C6 27E6-27EF 2983-2998 29D8-29DB 29FC-29FD 2CF9-2CFC 2CFE-2CFF 2D70 2E00-2E2E 2E30-2E4F 2E52-2E5D
    3001-3003 3008-3011 3014-301F 3030 303D 30A0 30FB A4FE-A4FF A60D-A60F A673 A67E A6F2-A6F7 A874-A877
    A8CE-A8CF A8F8-A8FA A8FC A92E-A92F A95F A9C1-A9CD A9DE-A9DF AA5C-AA5F AADE-AADF AAF0-AAF1 ABEB FD3E-FD3F
    FE10-FE19 FE30-FE52 FE54-FE61 FE63 FE68 FE6A-FE6B FF01-FF03 FF05-FF0A FF0C-FF0F FF1A-FF1B FF1F-FF20
    FF3B-FF3D FF3F FF5B FF5D FF5F-FF65 10100-10102 1039F 103D0 1056F 10857 1091F 1093F 10A50-10A58 10A7F
    10AF0-10AF6 10B39-10B3F 10B99-10B9C 10EAD 10F55-10F59 10F86-10F89 11047-1104D 110BB-110BC 110BE-110C1
    11140-11143 11174-11175 111C5-111C8 111CD 111DB 111DD-111DF 11238-1123D 112A9 1144B-1144F 1145A-1145B 1145D
    114C6 115C1-115D7 11641-11643 11660-1166C 116B9 1173C-1173E 1183B 11944-11946 119E2 11A3F-11A46 11A9A-11A9C
    11A9E-11AA2 11C41-11C45 11C70-11C71 11EF7-11EF8 11FFF 12470-12474 12FF1-12FF2 16A6E-16A6F 16AF5 16B37-16B3B
    16B44 16E97-16E9A 16FE2 1BC9F 1DA87-1DA8B 1E95E-1E95F
""")
_word_res = {}


def _word_re(keep_newlines, split_punct):
    """The splitting expressions: words (runs of non-space), each "\\n" a word of
    its own with keep_newlines; within a word, a punctuation code point or a
    run of others."""
    key = (keep_newlines, split_punct)
    if key not in _word_res:
        words = re.compile(("\n|" if keep_newlines else "") + f"[^{WORD_SPACE}]+")
        punct = re.compile(f"[{WORD_PUNCT}]|[^{WORD_PUNCT}]+") if split_punct else None
        _word_res[key] = words, punct
    return _word_res[key]


def word_tokens(tok, data):
    """The token strings of a word tokenizer (tokenizer.c word_split), from the
    bytes data: HTML tags (strip_html) and whitespace end a word; with
    keep_newlines each "\\n" is a token ("\\r" is whitespace); the other code
    points are lower-cased (after the whitespace test, before the punctuation
    one, as rnn.c) and with split_punct each punctuation code point is a
    token of its own."""
    s = char_text(tok, data, lower=False)  # each tag a space: a word boundary, as in word_split
    low = lowercase(s) if tok.get("lowercase") else s  # one code point to one: positions agree
    words, punct = _word_re(bool(tok.get("keep_newlines")), bool(tok.get("split_punct")))
    out = []
    for m in words.finditer(s):
        w = low[m.start():m.end()] if m.group() != "\n" else "\n"
        if punct:
            out += punct.findall(w)
        else:
            out.append(w)
    return out


ENCODED_TYPES = ("char", "byte", "word")  # the tokenizers encode() does


def encode(tok, text):
    """text (bytes, or a str taken as its UTF-8) -> token ids, as
    rnn_tokenizer_encode; TextError where rnn.c refuses the text. A text
    without tokens gives [] (a classifier then reads it as filler_id)."""
    data = as_bytes(text)
    if tok["type"] == "byte":
        return list(data)
    if tok["type"] not in ENCODED_TYPES:
        raise SystemExit(f"this script tokenizes char, byte and word models only (this one's tokenizer is "
                         f"{tok['type']}: use rnn.c)")
    index, unk = vocab_index(tok), tok["unk_id"]
    pieces = char_text(tok, data) if tok["type"] == "char" else word_tokens(tok, data)
    return [index.get(t, unk) for t in pieces]


_index = (None, None, None)  # (vocab, pad_id, index): the last one made


def vocab_index(tok):
    """token string -> id, without <pad> (text never encodes to it: a token
    that reads "<pad>", like one that reads "<unk>", is <unk>); kept for the
    next call with the same vocab list, so encoding text after text (classify
    on stdin) does not rebuild it."""
    global _index
    vocab, pad = tok["vocab"], tok["pad_id"]
    if _index[0] is not vocab or _index[1] != pad or len(_index[2]) != len(vocab) - (0 <= pad < len(vocab)):
        _index = (vocab, pad, {t: i for i, t in enumerate(vocab) if i != pad})
    return _index[2]


def filler_id(tok):
    """rnn_tokenizer_filler_id: a text with no tokens reads as this one token:
    <unk>, or for byte, which has none, the space."""
    if tok.get("unk_id", -1) >= 0:
        return tok["unk_id"]
    return 0x20 if tok["type"] == "byte" else 0


def producible(tok, i):
    """rnn_tokenizer_producible (char, byte, word): every id but <pad>."""
    return tok["type"] == "byte" or i != tok.get("pad_id")


CLOSE_PUNCT = set(".,;:!?%)]}\u2026\u00bb\u201d\u3001\u3002\uff0c\uff01\uff1f\uff1a\uff1b\uff09>")
OPEN_PUNCT = set("([{\u00ab\u201c\u2018\u00bf\u00a1\uff08$\u00a3\u20ac<`")  # $5.99, <br/>, `it's'
APOSTROPHES = set("'\u2019")


# rnn_detok's lists: what an apostrophe joins to the word before it ("don ' t"),
# and the words it begins after a space ("and ' tis").
CONTRACTION_ENDS = ("s", "t", "d", "m", "ll", "re", "ve", "st", "rt", "er", "en", "ld", "ry", "rs", "clock")
ELIDED_STARTS = ("tis", "twas", "twere", "twill", "twould", "em", "gainst", "tween", "twixt", "neath", "til",
                 "cause", "bout")
# ends_word's: the words an apostrophe before a word closes against (i' the,
# o' the, rock n' roll), and the common words in s that are no plural.
APOSTROPHE_ENDERS = ("i", "o", "n", "an", "th")
S_NOT_PLURAL = ("s", "is", "was", "has", "his", "this", "us", "as", "yes", "does", "its", "says", "thus", "plus",
                "unless", "whereas", "perhaps", "always")


def _kind(tok, i):
    """A word model's token kind, as rnn.c's tokenizer sets it: silent
    (<pad>), unk, newline ("\\n"), and with split_punct close, open, apos
    and quote ('"'); text otherwise."""
    s = tok["vocab"][i]
    if i == tok.get("pad_id"):
        return "silent"
    if i == tok.get("unk_id"):
        return "unk"
    if s == "\n":
        return "newline"
    if tok.get("split_punct"):
        for kind, marks in (("close", CLOSE_PUNCT), ("open", OPEN_PUNCT), ("apos", APOSTROPHES), ("quote", {'"'}),
                            ("hyphen", {"-", "/"})):
            if s in marks:
                return kind
    return "text"


def _is_word(tok, i, k):
    """rnn.c's is_word: <unk>, or text that starts with an ASCII letter or
    digit or a non-ASCII character."""
    if i < 0:
        return False
    s = tok["vocab"][i]
    return k == "unk" or (k == "text" and bool(s) and (s[0].isascii() and s[0].isalnum() or not s[0].isascii()))


def _among(tok, i, words):
    s = tok["vocab"][i]
    return any(len(s) == len(w) and all((ord(a) | 32) == ord(b) for a, b in zip(s, w)) for w in words)


def _ends_word(tok, i):
    """rnn.c's ends_word: an apostrophe after word i and before a word ends
    it (teachers' pomp, i' the, nothin' but) rather than opening a quotation."""
    s = tok["vocab"][i]
    last = s[-1:].lower()
    return ((last == "s" and not _among(tok, i, S_NOT_PLURAL)) or last in ("z", "x") or
            _among(tok, i, APOSTROPHE_ENDERS) or (len(s.encode()) > 3 and s[-2:].lower() == "in"))


URL_SCHEMES = ("http", "https", "ftp")
DOMAIN_ENDS = ("com", "org", "edu")  # not gov: "n.j. gov. says", "the u.s. gov't"
PAGE_ENDS = ("html", "htm", "php", "asp", "shtml")  # after a word against a "/" only: com/index.html


def _url_next(tok, u, i, k, s, word):
    """rnn.c's url_next: how far into a web address's start ("http : / / www
    . imdb . com") token i is, after one in state u. A word after "www ." or
    "www . name ." joins them, and so do the "/"s after "http :"; where no
    "www" came, a common ending (DOMAIN_ENDS) joins the "." before it."""
    if k == "cont":  # (the rest of a word: "im ##db")
        return u
    if word and _among(tok, i, URL_SCHEMES):
        return "scheme"
    if word and _among(tok, i, ("www",)):
        return "www"
    if word:
        return "name" if u in ("slashes", "www_dot") else "none"
    if k == "close" and s == b":" and u == "scheme":
        return "colon"
    if s == b"/" and u in ("colon", "slash"):
        return "slash" if u == "colon" else "slashes"
    if k == "close" and s == b"." and u in ("www", "name"):
        return "www_dot" if u == "www" else "name_dot"
    return "none"


def _spaced(kp, k):
    return kp is not None and kp not in ("silent", "newline", "open") and k not in ("newline", "close")


def detok(tok, ids, prev=-1, quote_open=False, squote_open=False):
    """rnn_detok: the text of ids written after token prev (-1: the start),
    with a straight double quote open there or not. char: the code point,
    <unk> U+FFFD, <pad> nothing; byte: the byte. word: " " + the word, but
    none at the start, after a "\\n" or a <pad>, nor before "\\n"; with
    split_punct none before . , ; : ! ? % ) ] } (CLOSE_PUNCT), none after
    ( [ { $ < (OPEN_PUNCT), a '"' opening and then closing in turn, and an
    apostrophe written with the token after it: "don't", "and 'tis",
    "teachers' pomp", "'hello", "said 'no' and" (squote_open: an apostrophe
    opened a quotation before prev)."""
    if tok["type"] == "byte":
        return bytes(ids)
    if tok["type"] == "char":
        return b"".join(b"" if i == tok.get("pad_id") else "\ufffd".encode() if i == tok.get("unk_id")
                        else tok["vocab"][i].encode() for i in ids)
    out = []
    pk = _kind(tok, prev) if 0 <= prev < len(tok["vocab"]) else None
    if pk == "quote":
        pk = "open" if quote_open else "close"
    if pk == "apos":  # the prime ended in an apostrophe, written: the next word goes on it
        pk = "open"
    held = None
    in_number = False  # the last token is . , or : after a digit: a digit next joins it (3.5)
    in_abbrev = False  # the last token is . after a one-letter word that began no abbreviation's letters:
    abbrev = False  # one more letter (not a, i) joins it (e.g., u.s., p.m.); abbrev: the last token is one
    joined = False  # the last token is a hyphen against a word (or hyphen) before it: a word next joins it
    url = "none"  # how far into a web address's start the last token is (_url_next)
    dot_word = 0  # the last token is . after a word (2: a path word): com, org, ... next joins it (imdb.com)
    path_word = False  # the last token is a word written against a "/" before it (com/index: html may follow)

    def put_held():  # the held apostrophe with nothing known after it
        nonlocal prev, pk, held
        if not _is_word(tok, prev, pk) and _spaced(pk, "open"):
            out.append(b" ")
        out.append(tok["vocab"][held].encode())
        prev, pk, held = held, "close", None

    for i in ids:
        k = _kind(tok, i)
        s = tok["vocab"][i].encode()
        if k == "silent":
            prev, pk = i, k
            continue
        joined_now = abbrev_now = path_now = False
        if k == "quote":
            k = "close" if quote_open else "open"
            quote_open = not quote_open
        if held is not None and k == "apos":
            put_held()
            held = i
            continue
        if held is not None:
            a = tok["vocab"][held].encode()
            word_before, word = _is_word(tok, prev, pk), _is_word(tok, i, k)
            elided = word and _among(tok, i, ELIDED_STARTS)
            if word and word_before and _among(tok, i, CONTRACTION_ENDS):
                out.append(a)
            elif ((word_before and not elided and (not word or squote_open or _ends_word(tok, prev))) or
                  (not word_before and word and squote_open and pk == "close")):
                out += [a] + [b" "] * _spaced("close", k)  # teachers' pomp; 'the matrix' is, 'stop!' and
                prev, pk = held, "close"
                squote_open = False
            else:  # an opening mark: and 'tis, 'hello, said 'no'; a quotation opens (not 'tis, nor the '80s)
                out += [b" "] * _spaced(pk, "open") + [a]
                if word and not elided and k != "unk" and not s[:1].isdigit():
                    squote_open = True
            held = None
        elif k == "apos":
            held = i
            continue
        elif _is_word(tok, i, k) and (url in ("www_dot", "name_dot") or (dot_word and _among(tok, i, DOMAIN_ENDS)) or
                                      (dot_word == 2 and _among(tok, i, PAGE_ENDS))):
            pass  # www.imdb.com, /index.html
        elif in_number and k == "text" and s[:1].isdigit():
            pass  # 3.5, 10,000, 3:15
        elif in_abbrev and k == "text" and len(s) == 1 and s.isalpha() and s.lower() not in (b"a", b"i"):
            abbrev_now = True  # e.g., u.s. (not "plan b. a", "so did i. i")
        elif k == "hyphen" and (_is_word(tok, prev, pk) or (pk == "hyphen" and joined) or
                                (s == b"/" and url in ("colon", "slash")) or
                                (s == b"/" and 0 <= prev < len(tok["vocab"]) and tok["vocab"][prev] == "<")):
            joined_now = True  # well-known, --
        elif k == "hyphen" and s == b"-" and pk == "hyphen" and 0 <= prev < len(tok["vocab"]) and tok["vocab"][prev] == "-":
            pass  # a spaced dash's second hyphen ("yes" -- and): on the first, the next word spaced
        elif pk == "hyphen" and joined and _is_word(tok, i, k):
            path_now = tok["vocab"][prev] == "/"  # well-known, com/title
        elif _spaced(pk, k):
            out.append(b" ")
        out.append(s)
        ps = tok["vocab"][prev].encode() if 0 <= prev < len(tok["vocab"]) else b""
        in_abbrev = k == "close" and s == b"." and len(ps) == 1 and ps.isalpha() and pk == "text" and not abbrev
        abbrev = abbrev_now
        in_number = k == "close" and s in (b".", b",", b":") and ps[-1:].isdigit() and pk != "silent"
        joined = joined_now
        url = _url_next(tok, url, i, k, s, _is_word(tok, i, k))
        dot_word = 1 + path_word if k == "close" and s == b"." and _is_word(tok, prev, pk) else 0
        path_word = path_now
        if k == "open" and s == b"`":  # a ` opens a quotation; a line break ends one left open
            squote_open = True
        elif k == "newline":
            squote_open = False
        prev, pk = i, k
    if held is not None:
        put_held()
    return b"".join(out)


def prime_squote_open(prime):
    """rnn_sampler_text's reading of a prime: whether an apostrophe in it
    opened a quotation ("he said 'no") that the sample's next one closes: one
    after a space, ( or " and before a letter opens; one after anything else
    and before neither a letter nor a digit closes."""
    open_ = False
    for j, c in enumerate(prime):
        if c == 0x60:
            open_ = True
        if c == 0x0A:
            open_ = False
        if c != 0x27:
            continue
        b = prime[j - 1] if j else 0x20
        a = prime[j + 1] if j + 1 < len(prime) else 0x61  # at the end, the sample's first word comes after it
        space_before = b in b" \n\t(\""
        letter_after = (0x61 <= (a | 32) <= 0x7a) or a >= 0x80
        if space_before and letter_after:
            open_ = True
        elif not space_before and not letter_after and not 0x30 <= a <= 0x39:
            open_ = False
    return open_


def decode(tok, ids):
    """rnn_tokenizer_decode: detok from the start."""
    return detok(tok, ids)


def read_text_file(path):
    """rnn_read_text_file: the file's bytes, a leading UTF-8 byte order mark
    skipped."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SystemExit(f"{path}: cannot open: {e.strerror or e}")
    return data[3:] if data[:3] == b"\xef\xbb\xbf" else data


# ---------------------------------------------------------------------------
# The model

RNN_KINDS = {"lstm": (nn.LSTM, {}), "gru": (nn.GRU, {}), "rnn_tanh": (nn.RNN, {"nonlinearity": "tanh"}),
             "rnn_relu": (nn.RNN, {"nonlinearity": "relu"})}


class Net(nn.Module):
    """The PyTorch twin of an rnn.c model (docs/checkpoints.md): embedding -> recurrent
    stack (s.rnn, one nn.LSTM/GRU/RNN, so the state_dict names are PyTorch's)
    -> for a language model the head on every step, for a classifier pooling
    over time and the head.

    residual (rnn train --residual, src/model.c rnn_model_forward): every layer
    l > 0 adds its input to its output, out_l = layer_l(in_l) + in_l, where in_l
    is the previous layer's output after the dropout between layers (both
    directions side by side when bidirectional; layer 0 has none, its input
    being the embedding). The layers then run one at a time, each through a
    single-layer module that shares s.rnn's Parameters (not registered, so the
    state_dict is unchanged); the state is nn.LSTM's (layers * directions,
    batch, hidden) either way."""

    def __init__(s, c):
        super().__init__()
        problems = config_problems(c)
        if problems:
            raise ValueError("; ".join(problems))
        c = s.c = config_with_defaults(c)
        E, H = c["embed_dim"], c["hidden_dim"]
        s.embedding = nn.Embedding(c["vocab_size"], E)
        s.recurrent = c["cell"] != "none"
        s.D = 2 if c["bidirectional"] and s.recurrent else 1
        s.residual = s.recurrent and c["residual"] and c["num_layers"] > 1
        s._layers = None
        if s.recurrent:
            kind, kw = RNN_KINDS[c["cell"]]
            L = c["num_layers"]
            s.rnn = kind(E, H, L, batch_first=True, bidirectional=s.D == 2,
                         dropout=c["dropout"] if L > 1 and not s.residual else 0.0, **kw)
            F = H * s.D
        else:
            F = E
        s.F = F
        if c["task"] == "lm":
            n_out, width = c["vocab_size"], F
        else:
            n_out = 1 if c["loss"] == "bce" else c["num_classes"]
            width = F * (2 if c["pool"] == "meanmax" else 1)
            if c["pool"] == "attention":
                A = c["attention_dim"]
                s.attention = nn.Sequential(nn.Linear(F, A), nn.Tanh(), nn.Linear(A, 1, bias=False))
        s.head = nn.Linear(width, n_out)
        if c["tie_weights"]:  # the output layer is the embedding (rnn.c --tie-weights)
            s.head.weight = s.embedding.weight

    def layer_modules(s):
        """The residual stack's single-layer modules, bound to s.rnn's Parameters
        (rebound if those were replaced since)."""
        names = [[n.replace("_l0", f"_l{l}") for n in s.rnn._flat_weights_names] for l in range(s.c["num_layers"])]
        if s._layers is None or any(getattr(m, n0) is not getattr(s.rnn, n)
                                    for m, ns in zip(s._layers, names) for n0, n in zip(m._flat_weights_names, ns)):
            kind, kw = RNN_KINDS[s.c["cell"]]
            layers = []
            for l, ns in enumerate(names):
                m = kind(s.c["embed_dim"] if l == 0 else s.F, s.c["hidden_dim"], 1, batch_first=True,
                         bidirectional=s.D == 2, **kw)
                for n0, n in zip(list(m._flat_weights_names), ns):
                    setattr(m, n0, getattr(s.rnn, n))  # RNNBase.__setattr__ keeps _flat_weights in step
                layers.append(m)
            s.__dict__["_layers"] = layers  # a plain attribute: not submodules, not in the state_dict
        return s._layers

    def encode_seq(s, x, state=None):
        """x (B, T, E) embedded -> the top layer's output (B, T, F), final state."""
        if not s.recurrent:
            return x, None
        if not s.residual:
            return s.rnn(x, state)
        lstm, D, p = s.c["cell"] == "lstm", s.D, s.c["dropout"]
        hs, cs, inp = [], [], x
        for l, m in enumerate(s.layer_modules()):
            if l > 0 and s.training and p > 0:
                inp = nn.functional.dropout(inp, p, True)
            st0 = None
            if state is not None:
                st0 = (state[0][l * D:(l + 1) * D], state[1][l * D:(l + 1) * D]) if lstm else state[l * D:(l + 1) * D]
            y, st1 = m(inp, st0)
            inp = y + inp if l > 0 else y
            hs.append(st1[0] if lstm else st1)
            if lstm:
                cs.append(st1[1])
        return inp, ((torch.cat(hs), torch.cat(cs)) if lstm else torch.cat(hs))

    def pool(s, o):
        """The top layer's output o (B, T, F) of B texts of T tokens -> the pooled
        (B, width), and attention's weights (B, T) or None."""
        pool, F = s.c["pool"], s.F
        H = F // 2 if s.D == 2 else F
        w = None
        if pool == "last":  # a backward direction's last step is the text's first token
            p = torch.cat([o[:, -1, :H], o[:, 0, H:]], 1) if H != F else o[:, -1]
        elif pool == "mean":
            p = o.mean(1)
        elif pool == "max":
            p = o.max(1).values
        elif pool == "meanmax":
            p = torch.cat([o.mean(1), o.max(1).values], 1)
        else:
            w = torch.softmax(s.attention(o)[..., 0], 1)
            p = (w[..., None] * o).sum(1)
        return p, w

    def forward_classify(s, ids):
        """ids: a list of token ids (one text) -> logits (n_out,), attention weights or None."""
        x = s.embedding(torch.tensor(ids).unsqueeze(0))
        p, w = s.pool(s.encode_seq(x)[0])
        return s.head(p)[0], (None if w is None else w[0])

    def forward(s, ids, state=None):
        """net(ids), ids a (B, T) tensor of token ids (what torch.jit.trace and
        torch.onnx.export call): a language model's (logits (B, T, V), state),
        as forward_lm; a classifier's logits (B, n_out) for B texts of T tokens
        each (texts of other lengths: forward_classify, one at a time)."""
        if s.c["task"] == "lm":
            return s.forward_lm(ids, state)
        return s.head(s.pool(s.encode_seq(s.embedding(ids))[0])[0])

    def forward_lm(s, ids, state=None, with_top=False):
        """ids (B, T) -> logits (B, T, V), state (and the top layer's output (B, T, F))."""
        x = s.embedding(ids)
        o, state = s.encode_seq(x, state)
        return (s.head(o), state, o) if with_top else (s.head(o), state)


def state_dict_problems(net, sd, prefix_hint=True):
    """What rnn.c's loader refuses in the tensors sd for net's config: missing,
    misshapen, unexpected (train.* aside), not float, not finite, and a tied
    head.weight that is not the embedding."""
    want = net.state_dict()
    tied = net.c["tie_weights"]
    p = []
    for k, v in want.items():
        if k in sd:
            continue
        if tied and k == "head.weight":
            continue  # optional in a tied file
        alt = [n for n in sd if n.endswith("." + k)] if prefix_hint else []
        p.append(f"tensor '{k}' missing" + (f", but '{alt[0]}' is there: the names carry a prefix" if alt else
                                           f" (the config: {net.c['task']} {net.c['cell']}, "
                                           f"{net.c['num_layers']} layer(s) of {net.c['hidden_dim']})"))
    for k, v in sd.items():
        if k.startswith("train."):
            continue
        if k not in want:
            p.append(f"unexpected tensor '{k}' for this config")
            continue
        if not torch.is_tensor(v) or not v.is_floating_point():
            p.append(f"tensor '{k}' is {getattr(v, 'dtype', type(v).__name__)}, expected a float tensor")
            continue
        if tuple(v.shape) != tuple(want[k].shape):
            shape, need = list(v.shape), list(want[k].shape)
            p.append(f"tensor '{k}' has shape {shape} where the config needs {need}" +
                     (" (stored transposed)" if shape[::-1] == need and len(shape) == 2 else ""))
            continue
        flat = v.detach().float().flatten()
        bad = (~torch.isfinite(flat)).nonzero()
        if len(bad):
            j = int(bad[0])
            p.append(f"tensor '{k}' holds {flat[j].item()} at index {j} (as float32, which rnn.c computes in): "
                     f"a diverged model or a damaged file")
    if not p and tied and "head.weight" in sd and not torch.equal(sd["head.weight"].float(), sd["embedding.weight"].float()):
        p.append("head.weight is not a copy of embedding.weight, but the config ties them (tie_weights)")
    return p


def _no_repeats(kv):
    """json's object_pairs_hook that refuses a key given twice (cJSON would
    take the first value, Python the last)."""
    d = {}
    for k, v in kv:
        if k in d:
            raise ValueError(f"the key \"{k}\" is given twice")
        d[k] = v
    return d


def _json_meta(meta, key, path):
    try:
        return json.loads(meta[key], object_pairs_hook=_no_repeats)
    except ValueError as e:
        raise SystemExit(f"{path}: metadata \"{key}\" is not valid JSON ({e})")


def load(path):
    """An rnn.c checkpoint -> (Net in eval mode, config, tokenizer or None,
    metadata), checked as rnn.c checks it."""
    tensors, meta = st.load(path)
    fmt = meta.get("format")
    if fmt != "rnn.c":
        raise SystemExit(f"{path}: not an rnn.c checkpoint (metadata \"format\" is "
                         f"{json.dumps(fmt) if fmt is not None else 'missing'})")
    if meta.get("format_version") != "1":
        raise SystemExit(f"{path}: unsupported format_version {meta.get('format_version', '(missing)')} "
                         f"(this script reads 1)")
    if "config" not in meta:
        raise SystemExit(f"{path}: metadata has no \"config\"")
    c = _json_meta(meta, "config", path)
    problems = config_problems(c)
    if problems:
        raise SystemExit("\n".join(f"{path}: bad config: {m}" for m in problems))
    net = Net(c)
    sd = {k: torch.from_numpy(v) for k, v in tensors.items() if not k.startswith("train.")}
    problems = state_dict_problems(net, sd)
    if problems:
        raise SystemExit("\n".join(f"{path}: {m}" for m in problems))
    if net.c["tie_weights"]:
        sd["head.weight"] = sd["embedding.weight"]
    net.load_state_dict(sd, strict=True)
    net.eval()
    tok = None
    if "tokenizer" in meta:
        tok = _json_meta(meta, "tokenizer", path)
        problems = tokenizer_problems(tok)
        if not problems and len(tok["vocab"]) != net.c["vocab_size"]:
            problems = [f"tokenizer has {len(tok['vocab'])} tokens but config vocab_size is {net.c['vocab_size']}"]
        if problems:
            raise SystemExit("\n".join(f"{path}: bad tokenizer: {m}" for m in problems))
    if net.c["task"] == "classify":
        labels = _json_meta(meta, "labels", path) if "labels" in meta else None
        problems = label_problems(labels, net.c)
        if problems:
            raise SystemExit("\n".join(f"{path}: metadata {m}" for m in problems))
        if meta.get("label_base", "0") not in ("0", "1"):
            raise SystemExit(f"{path}: metadata \"label_base\" must be \"0\" or \"1\" (got "
                             f"{json.dumps(meta['label_base'][:20])}): a damaged file")
    return net, c, tok, meta


# ---------------------------------------------------------------------------
# Classification, evaluation, generation

def classify(net, c, tok, text):
    """Class probabilities of one text (bytes or str), as rnn classify: its
    tokens cut to the config's max_len (the first, or with truncate "tail" the
    last), and a text with no tokens read as one filler token (<unk>; byte:
    the space)."""
    with torch.no_grad():
        ids, n = encode(tok, text), net.c["max_len"]
        if n and len(ids) > n:
            ids = ids[-n:] if net.c["truncate"] == "tail" else ids[:n]
        ids = ids or [filler_id(tok)]
        logits, _ = net.forward_classify(ids)
        if net.c["loss"] == "bce":
            p1 = torch.sigmoid(logits[0]).item()
            return [1 - p1, p1]
        return torch.softmax(logits, 0).tolist()


def cache_mix(p, h, keys, nexts, cache):
    """Grave et al. (2017): (1 - lambda) p + lambda * softmax(theta h . keys) summed onto nexts,
    in double, over the last `size` (key, next) pairs."""
    size, theta, lam = cache
    keys, nexts = keys[-size:], nexts[-size:]
    if not keys or lam == 0:
        return p
    w = torch.softmax(theta * (torch.stack(keys) @ h), 0)
    return (1 - lam) * p + lam * torch.zeros_like(p).index_add_(0, torch.tensor(nexts), w)


def cache_logprob(logits, h, keys, nexts, cache, y):
    """log q[y] of cache_mix, in the log domain: finite where q[y] underflows even a double
    (rnn.c's src/cache.c rnn_lm_cache_logprob)."""
    size, theta, lam = cache
    model = torch.log_softmax(logits.double(), 0)[y].item()
    keys, nexts = keys[-size:], nexts[-size:]
    if not keys or lam == 0:
        return model
    w = torch.log_softmax(theta * (torch.stack(keys) @ h), 0)
    mine = [w[i] for i, n in enumerate(nexts) if n == y]
    a = math.log1p(-lam) + model
    if not mine:  # y is not in the window: the model's share alone
        return a
    b = math.log(lam) + torch.logsumexp(torch.stack(mine), 0).item()
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def cache_scores(logits, top, y, keys, nexts, cache):
    """Scores targets y (T) with the cache's mixture over logits/top (T, V)/(T, F), in double,
    pushing each (state, next token) onto keys/nexts after it is scored: (nll, correct)."""
    nll, ok = 0.0, 0
    for t in range(len(y)):
        h = top[t].double()
        q = cache_mix(torch.softmax(logits[t].double(), 0), h, keys, nexts, cache)
        qy = q[y[t]].item()
        nll -= math.log(qy) if qy > 1e-300 else cache_logprob(logits[t], h, keys, nexts, cache, int(y[t]))
        ok += int(q.argmax().item() == y[t].item())
        keys.append(h)
        nexts.append(int(y[t]))
    return nll, ok


def perplexity(loss):
    """exp(loss), or None (JSON null, as rnn eval --json prints it) where a double cannot hold it."""
    try:
        return math.exp(loss)
    except OverflowError:
        return None


def lm_eval(net, ids, cache=None, streams=1):
    """ids read as `streams` contiguous streams side by side (the last len(ids) % streams dropped),
    each from a zero state with a cache of its own: `rnn eval --streams`."""
    with torch.no_grad():
        n = len(ids) // streams
        s = torch.tensor(ids[:n * streams]).view(streams, n)
        x, y = s[:, :-1], s[:, 1:]
        logits, _, top = net.forward_lm(x, with_top=True)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
        acc = (logits.argmax(-1) == y).float().mean().item()
        out = {"loss": loss, "perplexity": perplexity(loss), "accuracy": acc, "tokens": y.numel()}
        if cache:
            nll, ok = 0.0, 0
            for b in range(streams):
                bn, bo = cache_scores(logits[b], top[b], y[b], [], [], cache)
                nll, ok = nll + bn, ok + bo
            out.update({"loss": nll / y.numel(), "perplexity": perplexity(nll / y.numel()), "accuracy": ok / y.numel(),
                        "loss_without_cache": loss, "accuracy_without_cache": acc})
    return out


def lm_eval_dynamic(net, ids, dyn, cache=None):
    """Dynamic evaluation (Krause et al. 2018) as `rnn eval --dynamic`: the text in segments of
    seg tokens, each scored and then one SGD step on its mean loss (gradient norm clipped, the
    state carried but not back-propagated through), pulled back by decay toward the start; with
    rms > 0 the step is divided by the root of the gradient's bias-corrected running mean square.
    With a neural cache the scores are the cache's mixture (the steps still follow the model's
    own loss), as rnn eval does."""
    lr, seg, decay, clip, rms = dyn
    params = list(net.parameters())
    start = [p.detach().clone() for p in params]
    ms, steps = [torch.zeros_like(p) for p in params], 0
    x_all, y_all = torch.tensor(ids[:-1]), torch.tensor(ids[1:])
    state, nll, ok, own_nll, own_ok = None, 0.0, 0, 0.0, 0
    keys, nexts = [], []
    for s in range(0, len(y_all), seg):
        x, y = x_all[s:s + seg].unsqueeze(0), y_all[s:s + seg]
        logits, state, top = net.forward_lm(x, state, with_top=True)
        logits = logits[0]
        with torch.no_grad():
            own_nll -= torch.log_softmax(logits.double(), -1)[torch.arange(len(y)), y].sum().item()
            own_ok += int((logits.argmax(-1) == y).sum().item())
            if cache:
                seg_nll, seg_ok = cache_scores(logits, top[0], y, keys, nexts, cache)
                nll, ok = nll + seg_nll, ok + seg_ok
        if lr > 0:
            loss = nn.functional.cross_entropy(logits, y)
            net.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
            if torch.isfinite(norm):
                steps += 1
                with torch.no_grad():
                    for p, p0, q in zip(params, start, ms):
                        g = p.grad
                        if rms > 0:
                            q.mul_(rms).add_((1 - rms) * g * g)
                            g = g / ((q / (1 - rms ** steps)).sqrt() + 1e-8)
                        p.add_(decay * (p0 - p) - lr * g)
        state = tuple(h.detach() for h in state) if isinstance(state, tuple) else state.detach()
    n = len(y_all)
    if not cache:
        nll, ok = own_nll, own_ok
    out = {"loss": nll / n, "perplexity": perplexity(nll / n), "accuracy": ok / n, "tokens": n,
           "dynamic": {"lr": lr, "seg": seg, "decay": decay, "clip": clip, "rms": rms}}
    if cache:
        out.update({"loss_without_cache": own_nll / n, "accuracy_without_cache": own_ok / n})
    return out


class Utf8Hold:
    """rnn sample's hold on a byte model's text (src/sample.c utf8_step,
    draw_bans): only bytes that continue valid UTF-8 may be drawn."""

    def __init__(s):
        s.need, s.lo, s.hi = 0, 0x80, 0xBF

    def step(s, b):
        if s.need > 0 and s.lo <= b <= s.hi:
            s.need, s.lo, s.hi = s.need - 1, 0x80, 0xBF
            return
        s.need, s.lo, s.hi = 0, 0x80, 0xBF
        if 0xC2 <= b <= 0xDF:
            s.need = 1
        elif 0xE0 <= b <= 0xEF:
            s.need = 2
        elif 0xF0 <= b <= 0xF4:
            s.need = 3
        s.lo = {0xE0: 0xA0, 0xF0: 0x90}.get(b, s.lo)
        s.hi = {0xED: 0x9F, 0xF4: 0x8F}.get(b, s.hi)

    def banned(s):
        v = torch.arange(256)
        if s.need > 0:
            return ~((v >= s.lo) & (v <= s.hi))
        return ~(((v > 0) & (v < 0x80)) | ((v >= 0xC2) & (v <= 0xF4)))


def ends_in_space(b):
    """Whether bytes b end in a character a word tokenizer splits on
    (rnn_tokenizer_ends_in_space; invalid UTF-8 at the end: no)."""
    for k in (1, 2, 3, 4):
        try:
            return bool(re.fullmatch(f"[{WORD_SPACE}]", b[-k:].decode("utf-8")))
        except UnicodeDecodeError:
            continue
    return False


def greedy(net, tok, prime, length, cache=None, penalty=1.0, last=64):
    """rnn sample --temperature 0: the prime's bytes, then length tokens, each
    the most likely one rnn.c may draw (never <pad>; a byte model's text kept
    valid UTF-8, finishing a character begun at the end of length), with
    --repeat-penalty (CTRL's, as Hugging Face's RepetitionPenaltyLogitsProcessor:
    the logits of the tokens among the last `last` of the prime and the text,
    0: all of it, divided by penalty where positive and multiplied where not;
    with a cache, the log of its mixture is the logit), written
    as rnn_sampler_text does: each token's piece after the one before it (a
    word model's first token after the prime's last, with no space of its
    own where the prime ends in the tokenizer's whitespace, U+00A0 and
    U+3000 among it: rnn_tokenizer_ends_in_space)."""
    prime = as_bytes(prime) if prime else b""
    V = net.c["vocab_size"]
    banned = torch.tensor([not producible(tok, i) for i in range(V)])
    hold = Utf8Hold() if tok["type"] == "byte" and V == 256 else None
    with torch.no_grad():
        ids = encode(tok, prime) if prime else []
        ids_primed = bool(ids)
        if not ids:  # no prime, or no token in it: a newline first (or the first id neither banned nor <unk>)
            nl = next((i for i, t in enumerate(tok["vocab"]) if t == "\n"), None)
            if nl is None:
                nl = 0
                while nl < V - 1 and (banned[nl] or nl == tok.get("unk_id")):
                    nl += 1
            ids = [nl]
        if hold:
            for i in ids:
                hold.step(i)
        logits, state, top = net.forward_lm(torch.tensor(ids).unsqueeze(0), with_top=True)
        keys = [t.double() for t in top[0][:-1]]  # the prime's pairs: each state and the token after it
        nexts = list(ids[1:])

        seen = list(ids) if ids_primed else []  # (the newline fed first, unasked, is no text)
        pen = torch.tensor(penalty, dtype=torch.float32)  # rnn.c's float

        def pick(lg, h):
            q = lg.float().clone()  # (the penalty writes into it)
            if cache:
                q = cache_mix(torch.softmax(q.double(), 0), h.double(), keys, nexts, cache)
                if penalty != 1:  # rnn.c draws from log p of the mixture, in float
                    q = torch.log(q.float().clamp(min=torch.finfo(torch.float32).tiny))
            if penalty != 1 and seen:
                for i in set(seen[-last:] if last else seen):
                    q[i] = q[i] / pen if q[i] > 0 else q[i] * pen
            mask = banned | hold.banned() if hold else banned
            return int(q.masked_fill(mask, -math.inf).argmax())
        out = []
        h, lg = top[0, -1], logits[0, -1]
        while len(out) < length or (out and hold and hold.need > 0 and len(out) < length + 3):
            nxt = pick(lg, h)
            out.append(nxt)
            seen.append(nxt)
            keys.append(h.double())
            nexts.append(nxt)
            if hold:
                hold.step(nxt)
            logits, state, top = net.forward_lm(torch.tensor([[nxt]]), state, with_top=True)
            h, lg = top[0, -1], logits[0, -1]
    prev = ids[-1] if ids_primed else -1  # no prime's token: the start (the newline fed first is not seen)
    text = detok(tok, out, prev, prime.count(b'"') % 2 == 1, prime_squote_open(prime))
    if tok["type"] == "word" and text[:1] == b" " and ends_in_space(prime):
        text = text[1:]  # the prime's own space separates it
    return prime + text


# ---------------------------------------------------------------------------
# export: a PyTorch state_dict -> an rnn.c checkpoint

def read_json(path):
    """(value, None) or (None, a one-line message naming path). Strict JSON, as
    cJSON reads it: no NaN/Infinity; a key given twice is refused (cJSON would
    take the first, Python the last)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return None, f"{path}: cannot open: {e.strerror or e}"

    def no_constant(name):
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(raw, parse_constant=no_constant, object_pairs_hook=_no_repeats), None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        return None, f"{path}: not valid JSON ({e})"


def _is_state_dict(obj):
    return isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and torch.is_tensor(v)
                                                       for k, v in obj.items())


def is_safetensors(path):
    """Whether path starts as a safetensors file does: an 8-byte little-endian
    header length that fits in the file, then a JSON object."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return False
    return len(head) == 9 and head[8:] == b"{" and int.from_bytes(head[:8], "little") <= size - 8


def _safetensors_tensors(path):
    """A safetensors file's tensors as torch tensors (float32: F16, BF16 and F64
    converted as rnn.c converts them). (dict, None) or (None, message)."""
    try:
        tensors, _ = st.load(path)
    except SystemExit as e:
        return None, str(e)
    if not tensors:
        return None, f"{path}: a safetensors file with no tensors, not a state_dict"
    return {k: torch.from_numpy(v) for k, v in tensors.items()}, None


def _torch_load(path):
    """torch.load(path) on the CPU. (object, None) or (None, message)."""
    try:
        return torch.load(path, map_location="cpu"), None
    except OSError as e:
        return None, f"{path}: cannot open: {e.strerror or e}"
    except (AttributeError, ModuleNotFoundError, ImportError) as e:
        return None, (f"{path}: holds a pickled object whose class cannot be loaded here ({e}): save the model's "
                      f"state_dict, torch.save(model.state_dict(), PATH), not the model")
    except Exception as e:  # pickle.UnpicklingError, RuntimeError (not a zip), EOFError, ...
        return None, f"{path}: not a file torch.load reads ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"


def read_state_dict(path):
    """torch.load(path) as a state_dict, or a safetensors file's tensors (a
    state_dict saved with safetensors.torch.save_file, or save_model, which
    leaves out a tied head.weight): unwraps a training script's dict
    ({"state_dict": ...}, {"model": ...}) and strips DataParallel's "module."
    prefix, saying so on stderr. (state_dict, None) or (None, message)."""
    obj, err = _safetensors_tensors(path) if is_safetensors(path) else _torch_load(path)
    if err:
        return None, err
    if isinstance(obj, nn.Module):
        return None, (f"{path}: holds a whole pickled module ({type(obj).__name__}), not a state_dict: save "
                      f"torch.save(model.state_dict(), PATH) instead")
    if not _is_state_dict(obj):
        inner = None
        if isinstance(obj, dict):
            inner = next((k for k in ("state_dict", "model_state_dict", "model") if _is_state_dict(obj.get(k))), None)
        if inner is None:
            what = (f"a dict with keys {', '.join(repr(k) for k in list(obj)[:8])}" if isinstance(obj, dict) and obj
                    else f"a {type(obj).__name__}")
            hint = ""
            if isinstance(obj, dict) and isinstance(obj.get("model"), nn.Module):
                hint = " (its \"model\" is a whole module: save model.state_dict())"
            return None, (f"{path}: holds {what}, not a state_dict (a dict of tensor names to tensors, "
                          f"torch.save(model.state_dict(), PATH)){hint}")
        print(f"rnnc_torch.py export: {path}: using the state_dict under \"{inner}\" "
              f"(the other entries, {', '.join(repr(k) for k in obj if k != inner) or 'none'}, are left out)",
              file=sys.stderr)
        obj = obj[inner]
    if all(k.startswith("module.") for k in obj):
        print(f"rnnc_torch.py export: {path}: the tensor names carry torch.nn.DataParallel's \"module.\" prefix: "
              f"stripped", file=sys.stderr)
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj), None


def export(state_dict_path, config_path, tok_path, out_path, labels_path=None, label_base=None):
    """Checks everything rnn.c's loader checks, then writes the checkpoint.
    label_base ("0", "1" or None): the "label_base" metadata of a classifier
    whose data number its classes (rnn train --label-names), so that rnn eval
    reads such data without the names file. SystemExit with one line per
    problem, each naming its file."""
    problems = []
    c, err = read_json(config_path)
    cfg = None
    if err:
        problems.append(err)
    else:
        cp = config_problems(c)
        problems += [f"{config_path}: {m}" for m in cp]
        cfg = None if cp else config_with_defaults(c)
    tok, err = read_json(tok_path)
    if err:
        problems.append(err)
    else:
        problems += [f"{tok_path}: {m}" for m in tokenizer_problems(tok)]
        vocab = tok.get("vocab") if isinstance(tok, dict) else None
        if cfg and isinstance(vocab, list) and vocab and len(vocab) != cfg["vocab_size"]:
            problems.append(f"{tok_path}: the vocab has {len(vocab)} tokens but {config_path} has vocab_size "
                            f"{cfg['vocab_size']}")
    labels = None
    if cfg and cfg["task"] == "classify":
        if labels_path is None:
            problems.append(f"{out_path}: a classifier needs --labels LABELS.json, a JSON array of its "
                            f"{cfg['num_classes']} class names")
        else:
            labels, err = read_json(labels_path)
            problems += [err] if err else [f"{labels_path}: {m}" for m in label_problems(labels, cfg)]
    elif cfg and labels_path is not None:
        problems.append(f"{labels_path}: --labels is for classifiers ({config_path} is a language model)")
    if label_base is not None and label_base not in ("0", "1"):
        problems.append(f"--label-base must be 0 or 1 (got '{label_base}')")
    elif label_base is not None and cfg and cfg["task"] != "classify":
        problems.append(f"--label-base is for classifiers ({config_path} is a language model)")
    if isinstance(tok, dict) and tok.get("type") in ("char", "byte"):  # rnn.c would load these and ignore them
        ignored = ("split_punct", "keep_newlines") + (("lowercase", "strip_html") if tok["type"] == "byte" else ())
        problems += [f"{tok_path}: tokenizer: \"{k}\" is true, but a {tok['type']} tokenizer ignores it "
                     f"(rnn.c would read the text as if it were false)" for k in ignored if tok.get(k) is True]
    sd, err = read_state_dict(state_dict_path)
    if err:
        problems.append(err)
    net = None
    if sd is not None and cfg:
        net = Net(c)
        problems += [f"{state_dict_path}: {m}" for m in state_dict_problems(net, sd)]
    if problems:
        raise SystemExit("\n".join(problems))
    sd = {k: v.detach().float() for k, v in sd.items() if not k.startswith("train.")}
    if cfg["tie_weights"]:
        sd["head.weight"] = sd["embedding.weight"]
    net.load_state_dict(sd, strict=True)
    meta = {"format": "rnn.c", "format_version": "1", "config": json.dumps(c, ensure_ascii=False),
            "tokenizer": json.dumps(tok, ensure_ascii=False)}
    if labels is not None:
        meta["labels"] = json.dumps(labels, ensure_ascii=False)
        if label_base is not None:
            meta["label_base"] = label_base
    try:
        st.save(out_path, {k: v.float() for k, v in net.state_dict().items()}, meta)
    except OSError as e:
        raise SystemExit(f"{out_path}: cannot write: {e.strerror or e}")


def make_fixture(out_path):
    torch.manual_seed(11)
    text = "the quick brown fox jumps over the lazy dog.\nO Romeo, Romeo! wherefore art thou Romeo?\n"
    vocab = ["<pad>", "<unk>"] + sorted(set(text))
    tok = {"type": "char", "vocab": vocab, "pad_id": 0, "unk_id": 1, "lowercase": False,
           "min_count": 1, "max_vocab": 0, "invalid_utf8": "error"}
    c = {"task": "lm", "cell": "lstm", "vocab_size": len(vocab), "embed_dim": 8, "hidden_dim": 24,
         "num_layers": 2, "bidirectional": False, "dropout": 0.0}
    net = Net(c).double()
    with torch.no_grad():  # make the weights larger than init so the text is not flat
        for p in net.parameters():
            p.mul_(2.5)
    net = net.float().eval()
    ids = encode(tok, text)
    ev = lm_eval(net, ids)
    g = greedy(net, tok, "O Rom", 60)
    cache = (20, 0.5, 0.3)  # applied with rnn eval/sample --cache 20 --cache-theta 0.5 --cache-lambda 0.3
    ev_c = lm_eval(net, ids, cache)
    g_c = greedy(net, tok, "O Rom", 60, cache)
    dyn = (0.5, 8, 0.05, 1.0, 0.0)  # rnn eval --dynamic 0.5 --dynamic-seg 8 --dynamic-decay 0.05 --dynamic-clip 1
    ev_d = lm_eval_dynamic(copy.deepcopy(net), ids, dyn)
    dyn_rms = (0.01, 6, 0.0, 5.0, 0.9)  # ... --dynamic 0.01 --dynamic-seg 6 --dynamic-rms 0.9
    ev_dr = lm_eval_dynamic(copy.deepcopy(net), ids, dyn_rms)
    meta = {"format": "rnn.c", "format_version": "1", "config": json.dumps(c), "tokenizer": json.dumps(tok),
            "test.text": text, "test.loss": repr(ev["loss"]), "test.accuracy": repr(ev["accuracy"]),
            "test.prime": "O Rom", "test.greedy": g.decode("utf-8", "replace"),
            "test.cache": "20 0.5 0.3", "test.cache_loss": repr(ev_c["loss"]),
            "test.cache_greedy": g_c.decode("utf-8", "replace"),
            "test.dynamic": "0.5 8 0.05 1 0", "test.dynamic_loss": repr(ev_d["loss"]),
            "test.dynamic_rms": "0.01 6 0 5 0.9", "test.dynamic_rms_loss": repr(ev_dr["loss"])}
    st.save(out_path, {k: v for k, v in net.state_dict().items()}, meta)


def make_cls_fixture(out_path):
    torch.manual_seed(12)
    texts = ["a fine film", "dull and long.", "great!", "not bad at all, really", "x"]
    chars = sorted(set("".join(texts)) | set("abcdefghijklmnopqrstuvwxyz ,.!"))
    vocab = ["<pad>", "<unk>"] + chars
    tok = {"type": "char", "vocab": vocab, "pad_id": 0, "unk_id": 1, "lowercase": False,
           "min_count": 1, "max_vocab": 0, "invalid_utf8": "error"}
    c = {"task": "classify", "cell": "gru", "vocab_size": len(vocab), "embed_dim": 6, "hidden_dim": 10,
         "num_layers": 2, "bidirectional": True, "dropout": 0.0, "pool": "attention", "attention_dim": 5,
         "num_classes": 3, "loss": "ce", "padding_id": 0}
    net = Net(c).double()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
        net.embedding.weight[0].zero_()
    net = net.float().eval()
    labels = ["neg", "neu", "pos"]
    probs = [classify(net, c, tok, t) for t in texts]
    meta = {"format": "rnn.c", "format_version": "1", "config": json.dumps(c), "tokenizer": json.dumps(tok),
            "labels": json.dumps(labels), "test.texts": json.dumps(texts), "test.probs": json.dumps(probs)}
    st.save(out_path, {k: v for k, v in net.state_dict().items()}, meta)



# ---------------------------------------------------------------------------
# The command line

PROG = "rnnc_torch.py"


def usage_error(cmd, msg):
    print(f"{PROG} {cmd}: {msg}", file=sys.stderr)
    raise SystemExit(2)


class Args:
    """argv after the command: positionals, and --name VALUE / --name=VALUE
    options anywhere ("--" ends them); bools take no value."""

    def __init__(s, cmd, argv, values=(), bools=(), npos=(0, 0), usage=""):
        s.cmd, s.pos, s.opt = cmd, [], {}
        i, done = 0, False
        while i < len(argv):
            a = argv[i]
            if not done and a == "--":
                done = True
            elif not done and a.startswith("--") and len(a) > 2:
                name, eq, val = a[2:].partition("=")
                if name in bools and not eq:
                    s.opt[name] = True
                elif name in values:
                    if not eq:
                        if i + 1 >= len(argv):
                            usage_error(cmd, f"option --{name} needs a value")
                        i += 1
                        val = argv[i]
                    if name in s.opt:
                        usage_error(cmd, f"option --{name} is given twice")
                    s.opt[name] = val
                else:
                    usage_error(cmd, f"unknown option {a} (usage: {PROG} {usage})")
            else:
                s.pos.append(a)
            i += 1
        lo, hi = npos
        if not lo <= len(s.pos) <= hi:
            usage_error(cmd, f"{'too many arguments' if len(s.pos) > hi else 'missing arguments'} "
                             f"(usage: {PROG} {usage})")

    def num(s, name, lo, hi, default=None, whole=False):
        """The value of --name as a number in [lo, hi] (a whole one if whole)."""
        if name not in s.opt:
            return default
        text = s.opt[name]
        try:
            v = float(text)
        except ValueError:
            v = math.nan
        if not math.isfinite(v) or not lo <= v <= hi or "x" in text.lower():
            usage_error(s.cmd, f"--{name} '{text}' must be a number in [{lo:g}, {hi:g}]")
        if whole:
            if v != int(v):
                usage_error(s.cmd, f"--{name} '{text}' must be a whole number")
            return int(v)
        return v


DYNAMIC_FLAGS = ("dynamic", "dynamic-seg", "dynamic-decay", "dynamic-clip", "dynamic-rms")
CACHE_FLAGS = ("cache", "cache-theta", "cache-lambda")


def dynamic_settings(a):
    """Dynamic evaluation's (lr, seg, decay, clip, rms), rnn eval's ranges and
    defaults; None without --dynamic."""
    if "dynamic" not in a.opt:
        extra = next((f for f in DYNAMIC_FLAGS[1:] if f in a.opt), None)
        if extra:
            usage_error(a.cmd, f"--{extra} needs --dynamic LR")
        return None
    return (a.num("dynamic", 0, 1e3), a.num("dynamic-seg", 1, 1e6, 20, whole=True),
            a.num("dynamic-decay", 0, 0.999999, 0.0), a.num("dynamic-clip", 0, 1e9, 5.0),
            a.num("dynamic-rms", 0, 0.999999, 0.0))


def cache_settings(a, c, sampling):
    """The neural cache (size, theta, lambda) as rnn eval (the config's,
    overridden by --cache/--cache-theta/--cache-lambda) or rnn sample (only
    with --cache N) applies it; None without one."""
    given = [f for f in CACHE_FLAGS if f in a.opt]
    if given and c["task"] != "lm":
        usage_error(a.cmd, f"--{given[0]} is for language models; this checkpoint is a classifier")
    if sampling and given and "cache" not in a.opt:
        usage_error(a.cmd, "--cache-theta/--cache-lambda need --cache N (sampling uses no cache unless asked)")
    size = a.num("cache", 0, CACHE_MAX_SIZE, c["cache_size"] if not sampling else 0, whole=True)
    theta = f32(a.num("cache-theta", 0, CACHE_MAX_THETA, c["cache_theta"]))
    lam = f32(a.num("cache-lambda", 0, 1, c["cache_lambda"]))
    if size == 0 and given and "cache" not in a.opt:
        usage_error(a.cmd, "--cache-theta/--cache-lambda need a cache: add --cache N")
    if size and not lam < 1:
        usage_error(a.cmd, f"--cache-lambda must be below 1 (got {lam:g})")
    return (size, theta, lam) if size > 0 else None


def load_for(cmd, path, task):
    net, c, tok, meta = load(path)
    if net.c["task"] != task:
        raise SystemExit(f"{PROG} {cmd}: {path}: " + ("not a classifier" if task == "classify" else
                         "a classifier (this command is for language models; classify runs classifiers)"))
    if tok is None:
        raise SystemExit(f"{PROG} {cmd}: {path}: the checkpoint has no tokenizer (metadata \"tokenizer\")")
    if tok["type"] not in ENCODED_TYPES:
        raise SystemExit(f"{PROG} {cmd}: {path}: a {tok['type']} tokenizer: this script tokenizes char, byte and "
                         f"word models only (use rnn.c)")
    return net, c, tok, meta


def cmd_eval(argv):
    usage = ("eval CKPT TEXTFILE [--streams N] [--cache N] [--cache-theta X] [--cache-lambda X] "
             "[--dynamic LR [--dynamic-*]]")
    a = Args("eval", argv, ("streams",) + CACHE_FLAGS + DYNAMIC_FLAGS, ("json",), (2, 2), usage)
    dyn = dynamic_settings(a)
    streams = a.num("streams", 1, 1e6, 1, whole=True)
    if dyn and "streams" in a.opt:
        usage_error("eval", "--dynamic reads the file as one stream; drop --streams")
    ckpt, path = a.pos
    net, c, tok, _ = load_for("eval", ckpt, "lm")
    cache = cache_settings(a, net.c, sampling=False)
    data = read_text_file(path)
    try:
        ids = encode(tok, data)
    except TextError as e:
        raise SystemExit(f"{PROG} eval: {path}: {e}")
    if len(ids) < 2 * streams:
        raise SystemExit(f"{PROG} eval: {path}: needs at least 2 tokens to evaluate (has {len(ids)})" if streams == 1
                         else f"{PROG} eval: {path}: {len(ids)} tokens make no {streams} streams of at least 2 tokens")
    if net.c["reverse"]:  # a backward LM (rnn.c --reverse) reads the text right to left
        ids = ids[::-1]
    out = lm_eval_dynamic(net, ids, dyn, cache) if dyn else lm_eval(net, ids, cache, streams)
    out["unk"] = sum(1 for i in ids if i == tok.get("unk_id", -1))
    out["streams"] = streams  # after "unk", as rnn eval --json orders them
    print(json.dumps(out))


def cmd_greedy(argv):
    usage = ("greedy CKPT [--prime TEXT] [--length N] [--repeat-penalty X [--repeat-last N]] [--cache N ...] "
             "[--dynamic LR ...]")
    a = Args("greedy", argv, ("prime", "length", "repeat-penalty", "repeat-last") + CACHE_FLAGS + DYNAMIC_FLAGS, (),
             (1, 1), usage)
    dyn = dynamic_settings(a)
    length = a.num("length", 0, 1e9, 100, whole=True)
    penalty = a.num("repeat-penalty", 0.01, 100, 1.0)
    if "repeat-last" in a.opt and "repeat-penalty" not in a.opt:
        usage_error("greedy", "--repeat-last sets the window of --repeat-penalty: give --repeat-penalty X too")
    last = a.num("repeat-last", 0, 65536, 64, whole=True)
    prime = os.fsencode(a.opt.get("prime", ""))
    if dyn and not prime:
        usage_error("greedy", "--dynamic adapts the model to the prime: give --prime TEXT")
    net, c, tok, _ = load_for("greedy", a.pos[0], "lm")
    if net.c["reverse"]:
        raise SystemExit(f"{PROG} greedy: {a.pos[0]}: a backward (--reverse) language model: it predicts text "
                         f"right to left and cannot continue a prime")
    cache = cache_settings(a, net.c, sampling=True)
    try:
        if dyn:  # rnn sample --dynamic: adapt to the prime first, then write from it
            ids = encode(tok, prime)
            if len(ids) < 2:
                raise SystemExit(f"{PROG} greedy: --prime: --dynamic needs a prime of at least 2 tokens "
                                 f"(has {len(ids)})")
            lm_eval_dynamic(net, ids, dyn)
        text = greedy(net, tok, prime, length, cache, penalty, int(last))
    except TextError as e:
        raise SystemExit(f"{PROG} greedy: --prime: {e}")
    sys.stdout.buffer.write(text + (b"" if text.endswith(b"\n") else b"\n"))


def cmd_classify(argv):
    a = Args("classify", argv, (), ("json",), (1, 1 << 30), "classify CKPT [TEXT ...]")
    net, c, tok, meta = load_for("classify", a.pos[0], "classify")
    labels = json.loads(meta["labels"])
    if len(a.pos) > 1:
        texts = ((f"text {i + 1}", os.fsencode(t)) for i, t in enumerate(a.pos[1:]))
    else:  # one text per line of stdin, its line end ("\n", "\r\n") dropped
        texts = ((f"stdin line {i + 1}", line.rstrip(b"\r\n")) for i, line in enumerate(sys.stdin.buffer))
    for where, text in texts:
        try:
            if not encode(tok, text):
                name = "<unk>" if tok.get("unk_id", -1) >= 0 else "space"
                print(f"{PROG} classify: warning: {where}: no tokens in the text; read as one {name}",
                      file=sys.stderr)
            p = classify(net, c, tok, text)
        except TextError as e:
            sys.stdout.flush()
            raise SystemExit(f"{PROG} classify: {where}: {e}")
        best = max(range(len(p)), key=lambda i: p[i])
        print(json.dumps({"label": labels[best], "probabilities": p}), flush=True)


def cmd_export(argv):
    a = Args("export", argv, ("labels", "label-base"), (), (4, 4),
             "export STATE_DICT.pt CONFIG.json TOKENIZER.json OUT.safetensors [--labels LABELS.json [--label-base 0|1]]")
    export(*a.pos, a.opt.get("labels"), a.opt.get("label-base"))


def cmd_make_fixture(argv):
    make_fixture(Args("make-fixture", argv, npos=(1, 1), usage="make-fixture OUT.safetensors").pos[0])


def cmd_make_cls_fixture(argv):
    make_cls_fixture(Args("make-cls-fixture", argv, npos=(1, 1), usage="make-cls-fixture OUT.safetensors").pos[0])


COMMANDS = {"eval": cmd_eval, "greedy": cmd_greedy, "export": cmd_export, "classify": cmd_classify,
            "make-fixture": cmd_make_fixture, "make-cls-fixture": cmd_make_cls_fixture}


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    cmd = argv[1]
    if cmd not in COMMANDS:
        print(f"{PROG}: unknown command '{cmd}' (commands: {', '.join(COMMANDS)}; {PROG} --help)", file=sys.stderr)
        return 2
    if len(argv) > 2 and argv[2] in ("-h", "--help"):
        print(__doc__)
        return 0
    COMMANDS[cmd](argv[2:])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as e:  # anything left: one line, not a traceback (RNNC_TORCH_DEBUG=1 shows it)
        if os.environ.get("RNNC_TORCH_DEBUG"):
            raise
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"{PROG}: {type(e).__name__}: {msg[:500]}", file=sys.stderr)
        sys.exit(1)
