#!/usr/bin/env python3
"""torch_bench.py: the PyTorch side of the rnn.c benchmark.

Runs one case of bench/cases.json (the table bench_rnn.c reads too) and
prints one JSON line in bench_rnn's format:

    python3 bench/torch_bench.py CASE [--threads N] [--seconds S] [--warmup S]

The models are the plain PyTorch equivalents of rnn.c's: nn.Embedding ->
nn.LSTM/GRU/RNN (batch_first=False) -> nn.Linear, Adam, clip_grad_norm_;
language models carry the hidden state across batches (detached, reset when
the stream wraps round); the classifier pools the BiLSTM outputs over time
(mean and max, concatenated) before its Linear; classification inference
runs one text at a time under torch.no_grad() in eval mode and takes the
softmax of the logits; sampling feeds one token at a
time under torch.no_grad() and draws with torch.multinomial on
softmax(logits / temperature). Timing follows bench_rnn.c: warm-up for at
least one step and --warmup seconds, then timed steps for --seconds (at least
one). FLOPs are not counted here: run.sh uses rnn.c's count for both sides.

Threads: set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS to N
before starting Python (run.sh does), since the BLAS reads them at load
time; --threads then also calls torch.set_num_threads(N).
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN}


def recurrent(c):
    cls = CELLS.get(c["cell"])
    if cls is None:
        sys.exit(f"torch_bench: unsupported cell {c['cell']!r}")
    kw = {"nonlinearity": "tanh"} if c["cell"] == "rnn_tanh" else {}
    return cls(c["embed"], c["hidden"], num_layers=c["layers"],
               bidirectional=bool(c.get("bidirectional", False)), **kw)


class LM(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = 2 if c.get("bidirectional") else 1
        self.embedding = nn.Embedding(c["vocab"], c["embed"])
        self.rnn = recurrent(c)
        self.head = nn.Linear(d * c["hidden"], c["vocab"])

    def forward(self, ids, state=None):  # ids (T, B)
        y, state = self.rnn(self.embedding(ids), state)
        return self.head(y), state


class Classifier(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = 2 if c.get("bidirectional") else 1
        self.pool = c.get("pool", "meanmax")
        if self.pool not in ("mean", "max", "meanmax"):
            sys.exit(f"torch_bench: unsupported pool {self.pool!r}")
        width = (2 if self.pool == "meanmax" else 1) * d * c["hidden"]
        self.embedding = nn.Embedding(c["vocab"], c["embed"])
        self.rnn = recurrent(c)
        self.head = nn.Linear(width, c.get("classes", 2))

    def forward(self, ids):  # ids (T, B), every sequence full length
        y, _ = self.rnn(self.embedding(ids))  # (T, B, D*H)
        pooled = []
        if self.pool in ("mean", "meanmax"):
            pooled.append(y.mean(0))
        if self.pool in ("max", "meanmax"):
            pooled.append(y.max(0).values)
        return self.head(torch.cat(pooled, 1))


def detach(state):
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def run_steps(step, warmup, seconds):
    """bench_rnn.c's run_steps: returns (timed steps, seconds, last loss)."""
    k = 0
    if warmup > 0:
        t0 = time.perf_counter()
        while True:
            step(k)
            k += 1
            if time.perf_counter() - t0 >= warmup:
                break
    n, loss, t0 = 0, None, time.perf_counter()
    while True:
        loss = step(k)
        k += 1
        n += 1
        if time.perf_counter() - t0 >= seconds:
            break
    return n, time.perf_counter() - t0, loss


N_BATCHES = 8  # random batches drawn before timing, cycled (as bench_rnn.c)


def bench_train_lm(c, warmup, seconds):
    B, T = c["batch"], c["seq"]
    model = LM(c)
    opt = torch.optim.Adam(model.parameters(), lr=c["lr"])
    # B contiguous streams, batch k = positions k*T .. k*T+T (as rnn_lm_fill).
    data = torch.randint(0, c["vocab"], (B, T * N_BATCHES + 1))
    box = {"state": None}

    def step(k):
        kb = k % N_BATCHES
        chunk = data[:, kb * T: kb * T + T + 1].t().contiguous()  # (T+1, B)
        ids, targets = chunk[:-1], chunk[1:]
        state = box["state"] if kb > 0 else None
        logits, state = model(ids, state)
        box["state"] = detach(state)
        loss = F.cross_entropy(logits.reshape(-1, c["vocab"]), targets.reshape(-1))
        opt.zero_grad(set_to_none=False)
        loss.backward()
        if c.get("clip", 0) > 0:
            nn.utils.clip_grad_norm_(model.parameters(), c["clip"])
        opt.step()
        return loss.item()

    n, dt, loss = run_steps(step, warmup, seconds)
    return n * B * T, dt, n, loss


def bench_train_cls(c, warmup, seconds):
    B, T = c["batch"], c["seq"]
    model = Classifier(c)
    opt = torch.optim.Adam(model.parameters(), lr=c["lr"])
    ids = torch.randint(0, c["vocab"], (N_BATCHES, T, B))
    targets = torch.randint(0, c.get("classes", 2), (N_BATCHES, B))

    def step(k):
        kb = k % N_BATCHES
        loss = F.cross_entropy(model(ids[kb]), targets[kb])
        opt.zero_grad(set_to_none=False)
        loss.backward()
        if c.get("clip", 0) > 0:
            nn.utils.clip_grad_norm_(model.parameters(), c["clip"])
        opt.step()
        return loss.item()

    n, dt, loss = run_steps(step, warmup, seconds)
    return n * B, dt, n, loss


def bench_sample(c, warmup, seconds):
    model = LM(c).eval()
    temp = c["temperature"]
    gen = torch.Generator().manual_seed(7)
    box = {"state": None, "x": torch.zeros(1, 1, dtype=torch.long)}

    def step(k):
        with torch.no_grad():
            logits, box["state"] = model(box["x"], box["state"])
            probs = F.softmax(logits[0, 0] / temp, dim=-1)
            tok = torch.multinomial(probs, 1, generator=gen).item()
        box["x"] = torch.tensor([[tok]], dtype=torch.long)
        return None

    n, dt, _ = run_steps(step, warmup, seconds)
    return n, dt, n, None


def bench_classify(c, warmup, seconds):
    model = Classifier(c).eval()
    ids = torch.randint(0, c["vocab"], (N_BATCHES, c["seq"], 1))

    def step(k):
        with torch.no_grad():
            return F.softmax(model(ids[k % N_BATCHES]), dim=-1)[0, 0].item()

    n, dt, _ = run_steps(step, warmup, seconds)
    return n, dt, n, None


KINDS = {
    "train_lm": (bench_train_lm, "tokens/s"),
    "train_cls": (bench_train_cls, "sequences/s"),
    "sample": (bench_sample, "tokens/s"),
    "classify": (bench_classify, "sequences/s"),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", nargs="?")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--cases", default=os.path.join(here, "cases.json"))
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    with open(a.cases) as f:
        cases = {c["name"]: c for c in json.load(f)["cases"]}
    if a.list:
        print("\n".join(cases))
        return
    if a.case not in cases:
        sys.exit(f"torch_bench: no case {a.case!r} in {a.cases} (--list shows them)")
    c = cases[a.case]
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)
    fn, unit = KINDS[c["kind"]]
    units, dt, steps, loss = fn(c, a.warmup, a.seconds)
    thr = units / dt
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    print(json.dumps({
        "case": a.case, "side": "pytorch", "threads": torch.get_num_threads(),
        "throughput": round(thr, 2), "unit": unit, "peak_rss_mib": round(rss, 1),
        "steps": steps, "seconds": round(dt, 3),
        "loss": None if loss is None or math.isnan(loss) else round(loss, 4),
        "torch": torch.__version__}))


if __name__ == "__main__":
    main()
