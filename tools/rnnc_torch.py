#!/usr/bin/env python3
"""rnnc_torch.py: rnn.c checkpoints <-> PyTorch, with the PyTorch twin of DESIGN.md.

An rnn.c checkpoint is a safetensors file whose tensor names are the
state_dict() names of `Net` below, so `Net(config).load_state_dict(...)` works
on it. This script (needs only torch and numpy, e.g. Debian's python3-torch):

  rnnc_torch.py eval CKPT TEXTFILE
      next-token cross-entropy of a language model over the file (read as one
      sequence from a zero state, every token but the first predicted), as
      `rnn eval CKPT --data TEXTFILE --json` computes it; prints JSON.
  rnnc_torch.py greedy CKPT --prime TEXT --length N [--dynamic LR ...]
      greedy generation, as `rnn sample CKPT --temperature 0`; with --dynamic
      (and the --dynamic-* settings of eval) after adapting to the prime.
      eval applies the checkpoint's neural cache (config cache_size,
      cache_theta, cache_lambda) as `rnn eval` does; --cache N, --cache-theta X
      and --cache-lambda X override it. With --dynamic LR [--dynamic-seg N]
      [--dynamic-decay X] [--dynamic-clip X] [--dynamic-rms B] it is dynamic
      evaluation, as `rnn eval --dynamic` (with the cache, if any, mixed into
      the scores as there). greedy, like `rnn sample`, uses a
      cache only with --cache N (theta and lambda from the config or flags).
  rnnc_torch.py export STATE_DICT.pt CONFIG.json TOKENIZER.json OUT.safetensors [--labels LABELS.json]
      writes a PyTorch state_dict (torch.save of Net(...).state_dict()) as an
      rnn.c checkpoint: CONFIG.json is the "config" object of DESIGN.md,
      TOKENIZER.json the "tokenizer" object (e.g. from another rnn.c checkpoint
      or hand-written for a char vocabulary: {"type": "char", "vocab": [...],
      "pad_id": 0, "unk_id": 1}).
  rnnc_torch.py classify CKPT TEXT...
      class probabilities of a classifier, one JSON line per text, as
      `rnn classify CKPT --json TEXT...` prints them.
  rnnc_torch.py make-fixture OUT.safetensors
      a PyTorch-made char LSTM language model plus the eval loss and greedy
      text PyTorch computes for it (the test of the PyTorch -> rnn.c direction).
  rnnc_torch.py make-cls-fixture OUT.safetensors
      the same for a bidirectional 2-layer GRU classifier with attention
      pooling: texts and PyTorch's class probabilities in its metadata.

Python tokenization here covers the char and byte tokenizers (enough for the
checks); other tokenizers need rnn.c itself.
"""
import copy
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
import st  # noqa: E402  (the tiny safetensors reader/writer)


class Net(nn.Module):
    """The PyTorch twin of an rnn.c model (DESIGN.md)."""

    def __init__(s, c):
        super().__init__()
        s.c = c
        s.embedding = nn.Embedding(c["vocab_size"], c["embed_dim"])
        s.recurrent = c["cell"] != "none"
        bi = bool(c.get("bidirectional")) and s.recurrent
        if s.recurrent:
            kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN, "rnn_relu": nn.RNN}[c["cell"]]
            kw = {"nonlinearity": "relu"} if c["cell"] == "rnn_relu" else {}
            s.rnn = kind(c["embed_dim"], c["hidden_dim"], c["num_layers"], batch_first=True,
                         bidirectional=bi, dropout=c.get("dropout", 0.0), **kw)
            F = c["hidden_dim"] * (2 if bi else 1)
        else:
            F = c["embed_dim"]
        s.F = F
        if c["task"] == "lm":
            n_out, width = c["vocab_size"], F
        else:
            n_out = 1 if c.get("loss") == "bce" else c["num_classes"]
            width = F * (2 if c.get("pool") == "meanmax" else 1)
            if c.get("pool") == "attention":
                A = c["attention_dim"]
                s.attention = nn.Sequential(nn.Linear(F, A), nn.Tanh(), nn.Linear(A, 1, bias=False))
        s.head = nn.Linear(width, n_out)
        if c.get("tie_weights"):  # the output layer is the embedding (rnn.c --tie-weights)
            s.head.weight = s.embedding.weight

    def forward_classify(s, ids):
        """ids: a list of token ids (one text) -> logits (n_out,), attention weights or None."""
        x = s.embedding(torch.tensor(ids).unsqueeze(0))
        o = s.rnn(x)[0][0] if s.recurrent else x[0]          # (L, F)
        pool, F = s.c.get("pool", "last"), s.F
        H = F // 2 if (s.recurrent and s.c.get("bidirectional")) else F
        w = None
        if pool == "last":
            p = torch.cat([o[-1, :H], o[0, H:]]) if H != F else o[-1]
        elif pool == "mean":
            p = o.mean(0)
        elif pool == "max":
            p = o.max(0).values
        elif pool == "meanmax":
            p = torch.cat([o.mean(0), o.max(0).values])
        else:
            w = torch.softmax(s.attention(o)[:, 0], 0)
            p = (w[:, None] * o).sum(0)
        return s.head(p), w

    def forward_lm(s, ids, state=None, with_top=False):
        """ids (B, T) -> logits (B, T, V), state (and the top layer's output (B, T, F))."""
        x = s.embedding(ids)
        o, state = s.rnn(x, state)
        return (s.head(o), state, o) if with_top else (s.head(o), state)


def load(path):
    tensors, meta = st.load(path)
    if meta.get("format") != "rnn.c":
        raise SystemExit(f"{path}: not an rnn.c checkpoint")
    c = json.loads(meta["config"])
    if c.get("residual"):
        raise SystemExit(f"{path}: a residual model (rnn train --residual): this twin has no residual connections")
    net = Net(c)
    sd = {k: torch.from_numpy(v) for k, v in tensors.items() if not k.startswith("train.")}
    if c.get("tie_weights") and "head.weight" not in sd:  # the copy is optional in a tied file
        sd["head.weight"] = sd["embedding.weight"]
    net.load_state_dict(sd, strict=True)
    net.eval()
    tok = json.loads(meta["tokenizer"]) if "tokenizer" in meta else None
    return net, c, tok, meta


def encode(tok, text):
    if tok["type"] == "byte":
        return list(text.encode("utf-8"))
    if tok["type"] != "char":
        raise SystemExit("this script tokenizes char and byte models only")
    index = {t: i for i, t in enumerate(tok["vocab"])}
    return [index.get(ch, tok["unk_id"]) for ch in text]


def piece(tok, i):
    if tok["type"] == "byte":
        return bytes([i])
    if i == tok.get("unk_id"):
        return "\ufffd".encode()
    if i == tok.get("pad_id"):
        return b""
    return tok["vocab"][i].encode()


def classify(net, c, tok, text):
    with torch.no_grad():
        ids = encode(tok, text) or [tok.get("unk_id", 32)]
        logits, _ = net.forward_classify(ids)
        if c.get("loss") == "bce":
            p1 = torch.sigmoid(logits[0]).item()
            return [1 - p1, p1]
        return torch.softmax(logits, 0).tolist()


def cache_settings(c, argv):
    """The neural cache (size, theta, lambda) of config c, overridden by
    --cache / --cache-theta / --cache-lambda in argv; None without one."""
    size = int(c.get("cache_size", 0))
    theta, lam = float(c.get("cache_theta", 0.3)), float(c.get("cache_lambda", 0.2))
    if "--cache" in argv:
        size = int(argv[argv.index("--cache") + 1])
    if "--cache-theta" in argv:
        theta = float(argv[argv.index("--cache-theta") + 1])
    if "--cache-lambda" in argv:
        lam = float(argv[argv.index("--cache-lambda") + 1])
    return (size, theta, lam) if size > 0 else None


def cache_mix(p, h, keys, nexts, cache):
    """Grave et al. (2017): (1 - lambda) p + lambda * softmax(theta h . keys) summed onto nexts,
    in double, over the last `size` (key, next) pairs."""
    size, theta, lam = cache
    keys, nexts = keys[-size:], nexts[-size:]
    if not keys:
        return p
    w = torch.softmax(theta * (torch.stack(keys) @ h), 0)
    return (1 - lam) * p + lam * torch.zeros_like(p).index_add_(0, torch.tensor(nexts), w)


def cache_scores(logits, top, y, keys, nexts, cache):
    """Scores targets y (T) with the cache's mixture over logits/top (T, V)/(T, F), in double,
    pushing each (state, next token) onto keys/nexts after it is scored: (nll, correct)."""
    nll, ok = 0.0, 0
    for t in range(len(y)):
        h = top[t].double()
        q = cache_mix(torch.softmax(logits[t].double(), 0), h, keys, nexts, cache)
        nll -= math.log(q[y[t]].item())
        ok += int(q.argmax().item() == y[t].item())
        keys.append(h)
        nexts.append(int(y[t]))
    return nll, ok


def lm_eval(net, ids, cache=None):
    with torch.no_grad():
        x = torch.tensor(ids[:-1]).unsqueeze(0)
        y = torch.tensor(ids[1:])
        logits, _, top = net.forward_lm(x, with_top=True)
        logits, top = logits[0], top[0]
        loss = nn.functional.cross_entropy(logits, y).item()
        acc = (logits.argmax(-1) == y).float().mean().item()
        out = {"loss": loss, "perplexity": math.exp(loss), "accuracy": acc, "tokens": len(ids) - 1}
        if cache:
            nll, ok = cache_scores(logits, top, y, [], [], cache)
            out.update({"loss": nll / len(y), "perplexity": math.exp(nll / len(y)), "accuracy": ok / len(y),
                        "loss_without_cache": loss, "accuracy_without_cache": acc})
    return out


def dynamic_settings(argv):
    """Dynamic evaluation's (lr, seg, decay, clip, rms) from --dynamic LR [--dynamic-seg N]
    [--dynamic-decay X] [--dynamic-clip X] [--dynamic-rms B] in argv (rnn eval's defaults); None
    without --dynamic."""
    if "--dynamic" not in argv:
        return None
    get = lambda flag, default: float(argv[argv.index(flag) + 1]) if flag in argv else default
    seg = get("--dynamic-seg", 20)
    if seg != int(seg) or seg < 1:
        raise SystemExit(f"--dynamic-seg {seg}: a whole number of tokens >= 1 expected")
    return (get("--dynamic", 0.0), int(seg), get("--dynamic-decay", 0.0), get("--dynamic-clip", 5.0),
            get("--dynamic-rms", 0.0))


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
    out = {"loss": nll / n, "perplexity": math.exp(nll / n), "accuracy": ok / n, "tokens": n,
           "dynamic": {"lr": lr, "seg": seg, "decay": decay, "clip": clip, "rms": rms}}
    if cache:
        out.update({"loss_without_cache": own_nll / n, "accuracy_without_cache": own_ok / n})
    return out


def greedy(net, tok, prime, length, cache=None):
    with torch.no_grad():
        ids = encode(tok, prime) if prime else []
        if not ids:
            nl = tok["vocab"].index("\n") if "\n" in tok["vocab"] else 0
            ids = [nl]
        logits, state, top = net.forward_lm(torch.tensor(ids).unsqueeze(0), with_top=True)
        keys = [t.double() for t in top[0][:-1]]  # the prime's pairs: each state and the token after it
        nexts = list(ids[1:])

        def pick(lg, h):
            if not cache:
                return int(lg.argmax())
            q = cache_mix(torch.softmax(lg.double(), 0), h.double(), keys, nexts, cache)
            return int(q.argmax())
        out = []
        h = top[0, -1]
        nxt = pick(logits[0, -1], h)
        for _ in range(length):
            out.append(nxt)
            keys.append(h.double())
            nexts.append(nxt)
            logits, state, top = net.forward_lm(torch.tensor([[nxt]]), state, with_top=True)
            h = top[0, -1]
            nxt = pick(logits[0, -1], h)
    return (prime.encode() if prime else b"") + b"".join(piece(tok, i) for i in out)


def export(state_dict_path, config_path, tok_path, out_path, labels_path=None):
    sd = torch.load(state_dict_path, map_location="cpu")
    c = json.load(open(config_path))
    net = Net(c)
    net.load_state_dict(sd, strict=True)  # validates names and shapes
    meta = {"format": "rnn.c", "format_version": "1", "config": json.dumps(c),
            "tokenizer": json.dumps(json.load(open(tok_path)))}
    if labels_path:
        meta["labels"] = json.dumps(json.load(open(labels_path)))
    st.save(out_path, {k: v.float() for k, v in net.state_dict().items()}, meta)


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


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd = argv[1]
    if cmd == "eval":
        net, c, tok, _ = load(argv[2])
        text = open(argv[3], encoding="utf-8").read()
        ids = encode(tok, text)
        if c.get("reverse"):  # a backward LM (rnn.c --reverse) reads the text right to left
            ids = ids[::-1]
        dyn, cache = dynamic_settings(argv), cache_settings(c, argv)
        print(json.dumps(lm_eval_dynamic(net, ids, dyn, cache) if dyn else lm_eval(net, ids, cache)))
    elif cmd == "greedy":
        net, c, tok, _ = load(argv[2])
        prime = argv[argv.index("--prime") + 1] if "--prime" in argv else ""
        length = int(argv[argv.index("--length") + 1]) if "--length" in argv else 100
        cache = cache_settings(c, argv) if "--cache" in argv else None  # sampling: only when asked
        dyn = dynamic_settings(argv)
        if dyn:  # rnn sample --dynamic: adapt to the prime first, then write from it
            lm_eval_dynamic(net, encode(tok, prime), dyn)
        sys.stdout.buffer.write(greedy(net, tok, prime, length, cache) + b"\n")
    elif cmd == "export":
        labels = argv[argv.index("--labels") + 1] if "--labels" in argv else None
        export(argv[2], argv[3], argv[4], argv[5], labels)
    elif cmd == "make-fixture":
        make_fixture(argv[2])
    elif cmd == "make-cls-fixture":
        make_cls_fixture(argv[2])
    elif cmd == "classify":
        net, c, tok, meta = load(argv[2])
        labels = json.loads(meta["labels"])
        for text in argv[3:]:
            p = classify(net, c, tok, text)
            best = max(range(len(p)), key=lambda i: p[i])
            print(json.dumps({"label": labels[best], "probabilities": p}))
    else:
        print(f"unknown command {cmd}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
