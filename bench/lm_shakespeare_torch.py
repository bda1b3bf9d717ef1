#!/usr/bin/python3
"""PyTorch reference for bench/lm_shakespeare.sh: the same model, data and
budget, written the idiomatic way, printing the same validation-loss table.

    /usr/bin/python3 bench/lm_shakespeare_torch.py [SECONDS] [--threads N] [--eval-every STEPS]
        [--seq-len T] [--batch B] [--dropout P] [--embed-dropout P] [--head-dropout P]
        [--weight-drop P] [--ema DECAY] [--cosine-min-lr LR] [--save OUT.safetensors]

Data as `rnn train --data input.txt` reads it: characters (code points) of
tiny shakespeare, the last 10% (cut at the next newline) for validation, a
vocabulary of the training part's characters plus <unk>; 32 contiguous
streams (--batch), truncated BPTT of 128 (--seq-len) with the hidden state
carried from batch to batch and reset when the streams wrap. Model:
embedding 64, 2-layer LSTM of 512 (forget-gate bias 0 at init, rnn.c's
--forget-bias 0), linear to the vocabulary; Adam 2e-3, gradient norm clipped to 5. The
validation loss is the mean cross-entropy (nats/char) over the validation
text read as --batch streams, state carried, as rnn.c computes it. The elapsed
time includes validation, as rnn.c's does.

The regularised recipe of rnn.c's 30-minute run has its twin here too:
--dropout P is nn.LSTM's dropout between the layers (rnn.c --dropout),
--embed-dropout P an nn.Dropout on the embedding output (rnn.c --embed-dropout),
--head-dropout P an nn.Dropout on the top layer's output before the linear
layer (rnn.c --head-dropout), --weight-drop P DropConnect on each layer's
weight_hh with one mask per batch (AWD-LSTM's WeightDrop; rnn.c --weight-drop),
--ema DECAY validates an exponential moving average of the weights updated
after every step with decay min(DECAY, (1+step)/(10+step)) (rnn.c --ema),
and --cosine-min-lr LR anneals the learning
rate from 2e-3 to LR along a half cosine over the wall-time budget (rnn.c
--schedule cosine --min-lr LR with --time, which spreads the cosine over
the budget the same way).

--save OUT.safetensors writes the model that scored best on validation as an
rnn.c checkpoint (tools/rnnc_torch.py's names; the vocabulary gains rnn.c's
<pad> as id 0, whose logit is pinned at -1e4), so that `rnn eval` can score
PyTorch's model too, e.g. with a neural cache.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn

ap = argparse.ArgumentParser()
ap.add_argument("seconds", type=float, nargs="?", default=600)
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--eval-every", type=int, default=200)
ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared",
                                               "data", "tinyshakespeare", "input.txt"))
ap.add_argument("--seed", type=int, default=1337)
ap.add_argument("--seq-len", type=int, default=128)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--dropout", type=float, default=0.0)
ap.add_argument("--head-dropout", type=float, default=0.0)
ap.add_argument("--embed-dropout", type=float, default=0.0)
ap.add_argument("--weight-drop", type=float, default=0.0)
ap.add_argument("--ema", type=float, default=0.0)
ap.add_argument("--cosine-min-lr", type=float, default=None)
ap.add_argument("--weight-decay", type=float, default=0.0,
                help="AdamW's decoupled weight decay (0: Adam, as before)")
ap.add_argument("--random-offset", action="store_true",
                help="each epoch after the first rotates the training text by a random offset (rnn.c's --random-offset)")
ap.add_argument("--save", default=None)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

text = open(a.data, encoding="utf-8").read()
cut = int(len(text) * 0.9)
nl = text.find("\n", cut)
cut = nl + 1 if nl >= 0 and nl - cut < 4096 else cut
train_text, val_text = text[:cut], text[cut:]
chars = sorted(set(train_text))
idx = {c: i + 1 for i, c in enumerate(chars)}  # 0: <unk>
V = len(chars) + 1
enc = lambda s: torch.tensor([idx.get(c, 0) for c in s], dtype=torch.long)
train, val = enc(train_text), enc(val_text)

B, T, E, H, L = a.batch, a.seq_len, 64, 512, 2


def streams(ids):
    n = len(ids) // B
    return ids[: n * B].view(B, n).t().contiguous()  # (n, B): time-major


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, H, L, dropout=a.dropout)
        self.edrop = nn.Dropout(a.embed_dropout)
        self.drop = nn.Dropout(a.head_dropout)
        self.out = nn.Linear(H, V)

    def forward(self, x, h=None):
        e = self.edrop(self.emb(x))
        if self.training and a.weight_drop > 0:
            # WeightDrop: this batch's masked copies of weight_hh_l* in place
            # of the parameters (gradients reach them through the mask). The
            # kernel is called with the weight list directly: nn.LSTM caches
            # its flat weights, so swapping attributes would not take effect.
            ws = [nn.functional.dropout(w, a.weight_drop) if n.startswith("weight_hh") else w
                  for n, w in zip(self.rnn._flat_weights_names, self.rnn._flat_weights)]
            if h is None:
                z = e.new_zeros(L, e.shape[1], H)
                h = (z, z)
            y, hn, cn = torch._VF.lstm(e, h, ws, True, L, a.dropout, True, False, False)
            h = (hn, cn)
        else:
            y, h = self.rnn(e, h)
        return self.out(self.drop(y)), h


model = LM()
LR = 2e-3
opt = (torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=a.weight_decay) if a.weight_decay > 0
       else torch.optim.Adam(model.parameters(), lr=LR))
tr, va = streams(train), streams(val)


ema = [p.detach().clone() for p in model.parameters()] if a.ema > 0 else None


def validate():
    if ema is not None:  # validate the average: swap it in
        for p, e in zip(model.parameters(), ema):
            t = p.detach().clone()
            p.data.copy_(e)
            e.copy_(t)
    try:
        return validate_current()
    finally:
        if ema is not None:
            for p, e in zip(model.parameters(), ema):
                t = p.detach().clone()
                p.data.copy_(e)
                e.copy_(t)


def validate_current():
    model.eval()
    total, count, h = 0.0, 0, None
    with torch.no_grad():
        for pos in range(0, len(va) - 1, T):
            x, y = va[pos : pos + T], va[pos + 1 : pos + 1 + T]
            x = x[: len(y)]
            logits, h = model(x, h)
            total += nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    model.train()
    return total / count


print(f"torch {torch.__version__}, {a.threads} threads; vocab {V}; {len(train)} train / {len(val)} val chars",
      flush=True)
rows = []
t0 = time.time()
step, tokens, pos, h = 0, 0, 0, None
usable = (len(train) // B) * B
while True:
    if pos + T + 1 > len(tr):
        pos, h = 0, None
        if a.random_offset:  # the streams start elsewhere in the text each epoch
            tr = streams(torch.roll(train[:usable], -int(torch.randint(0, usable // B, (1,)))))
    x, y = tr[pos : pos + T], tr[pos + 1 : pos + 1 + T]
    pos += T
    if a.cosine_min_lr is not None:
        frac = min(1.0, (time.time() - t0) / a.seconds)
        for g in opt.param_groups:
            g["lr"] = a.cosine_min_lr + (LR - a.cosine_min_lr) * 0.5 * (1 + math.cos(math.pi * frac))
    logits, h = model(x, h)
    h = tuple(s.detach() for s in h)
    loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    step += 1
    if ema is not None:
        d = min(a.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for p, e in zip(model.parameters(), ema):
                e.mul_(d).add_(p, alpha=1 - d)
    tokens += x.numel()
    done = time.time() - t0 >= a.seconds
    if step % a.eval_every == 0 or done:
        v = validate()
        if a.save and (not rows or v < min(r[3] for r in rows)):
            best = {k: t.detach().clone() for k, t in model.state_dict().items()}
            if ema is not None:  # validate() scored the average
                names = [n for n, _ in model.named_parameters()]
                best.update({n: e.detach().clone() for n, e in zip(names, ema)})
        rows.append((step, time.time() - t0, tokens, v))
        print(f"step {step} {time.time() - t0:.0f}s train {loss.item():.4f} val {v:.4f} "
              f"{tokens / (time.time() - t0):.0f} tok/s", flush=True)
    if done:
        break
print("| step | elapsed s | train tokens | val loss (nats/char) |")
print("|--:|--:|--:|--:|")
for s, e, n, v in rows:
    print(f"| {s} | {e:.0f} | {n} | {v:.4f} |")

if a.save:  # as an rnn.c checkpoint: <pad> becomes id 0, <unk> 1, the characters 2..
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
    import st  # noqa: E402
    tensors = {}
    for k, t in best.items():
        k = k.replace("emb.", "embedding.").replace("out.", "head.")
        if k in ("embedding.weight", "head.weight", "head.bias"):
            pad = torch.full_like(t[:1], -1e4 if k == "head.bias" else 0.0)
            t = torch.cat([pad, t])
        tensors[k] = t.float().numpy()
    tok = {"type": "char", "vocab": ["<pad>", "<unk>"] + chars, "pad_id": 0, "unk_id": 1, "lowercase": False,
           "min_count": 1, "max_vocab": 0, "invalid_utf8": "error"}
    cfg = {"task": "lm", "cell": "lstm", "vocab_size": V + 1, "embed_dim": E, "hidden_dim": H, "num_layers": L,
           "bidirectional": False, "dropout": a.dropout}
    st.save(a.save, tensors, {"format": "rnn.c", "format_version": "1", "config": json.dumps(cfg),
                              "tokenizer": json.dumps(tok)})
    print(f"best model ({min(r[3] for r in rows):.4f}) written to {a.save}")
