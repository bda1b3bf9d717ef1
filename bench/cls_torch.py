#!/usr/bin/python3
"""PyTorch reference for bench/cls_benchmarks.sh: the same data sets, splits,
model and budget, written the idiomatic PyTorch way (packed sequences), so the
docs/training-results.md can show both side by side.

    /usr/bin/python3 bench/cls_torch.py [trec|sst2|sst2-phrases|agnews|imdb ...] [--threads N]

Each case mirrors the `rnn train` command of the same name in
cls_benchmarks.sh: word tokens (lowercased, punctuation split off, HTML tags
removed for IMDb), a frequency vocabulary of the training split with <pad>
and <unk>, embedding -> 1-layer BiLSTM of 128 -> mean and max pooling over the
real (unpadded) positions, concatenated -> dropout 0.5 -> linear; Adam,
gradient norm clipped to 5; the best epoch on the validation split is scored
on the test split. Prints one Markdown row per case.
"""
import argparse
import csv
import os
import random
import re
import sys
import time

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
D = os.path.join(os.environ.get("RNN_SHARED", os.path.join(HERE, "..", "..", "shared")), "data")
TOKEN = re.compile(r"\w+|[^\w\s]")
TAG = re.compile(r"<[^>]*>")


def tokens(text, html=False):
    if html:
        text = TAG.sub(" ", text)
    return TOKEN.findall(text.lower())


def tsv(path, text_col=-1):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            rows.append((parts[0], parts[text_col]))
    return rows


def agnews():
    """The documented split of test.csv (as cls_benchmarks.sh): per class,
    rows whose running count c (0-based) has c % 38 < 5 are test."""
    train, test, seen = [], [], {}
    with open(os.path.join(D, "ag_news", "test.csv"), encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            c = row[0]
            k = seen.get(c, 0)
            seen[c] = k + 1
            (test if k % 38 < 5 else train).append((c, row[1] + " " + row[2]))
    return train, test


def agnews_case():
    train, test = agnews()  # one read of test.csv for both splits
    run("AG News", *val_split(train, 0.1), test, epochs=8)


def val_split(rows, frac, seed=1337):
    rows = rows[:]
    random.Random(seed).shuffle(rows)
    n = int(round(len(rows) * frac))
    return rows[n:], rows[:n]


class Classifier(nn.Module):
    def __init__(self, V, E, H, C):
        super().__init__()
        self.emb = nn.Embedding(V, E, padding_idx=0)
        self.rnn = nn.LSTM(E, H, 1, bidirectional=True)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(4 * H, C)

    def forward(self, x, lengths):  # x: (T, B) padded, lengths sorted descending
        packed = pack_padded_sequence(self.emb(x), lengths, enforce_sorted=True)
        y, _ = self.rnn(packed)
        y, _ = pad_packed_sequence(y)  # (T, B, 2H), zeros past each length
        mask = (torch.arange(y.shape[0])[:, None] < lengths[None, :]).unsqueeze(-1)
        mean = y.sum(0) / lengths[:, None].float()
        mx = y.masked_fill(~mask, float("-inf")).max(0).values
        return self.out(self.drop(torch.cat([mean, mx], 1)))


def batches(data, B, shuffle):
    """Buckets: sort by length inside chunks of 50 batches, then shuffle the batches."""
    idx = list(range(len(data)))
    if shuffle:
        random.shuffle(idx)
    out = []
    for c in range(0, len(idx), 50 * B):
        chunk = sorted(idx[c : c + 50 * B], key=lambda i: -len(data[i][1]))
        out += [chunk[i : i + B] for i in range(0, len(chunk), B)]
    if shuffle:
        random.shuffle(out)
    for b in out:
        b = sorted(b, key=lambda i: -len(data[i][1]))
        lengths = torch.tensor([max(1, len(data[i][1])) for i in b])
        x = torch.zeros(int(lengths[0]), len(b), dtype=torch.long)
        for j, i in enumerate(b):
            ids = data[i][1]
            x[: len(ids), j] = torch.tensor(ids if ids else [1])
        yield x, lengths, torch.tensor([data[i][0] for i in b])


def accuracy(model, data, B=256):
    model.eval()
    ok = 0
    with torch.no_grad():
        for x, lengths, y in batches(data, B, False):
            ok += (model(x, lengths).argmax(1) == y).sum().item()
    model.train()
    return ok / len(data)


def run(name, train, val, test, html=False, E=128, H=128, B=32, lr=2e-3, epochs=10, patience=3,
        max_len=0, max_vocab=0, seconds=0):
    t0 = time.time()
    tok = lambda rows: [(lab, tokens(t, html)) for lab, t in rows]
    train, val, test = tok(train), tok(val), tok(test)
    if max_len:
        train, val, test = [[(l, t[:max_len]) for l, t in s] for s in (train, val, test)]
    counts = {}
    for _, t in train:
        for w in t:
            counts[w] = counts.get(w, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))[: (max_vocab - 2) if max_vocab else None]
    vocab = {w: i + 2 for i, w in enumerate(words)}  # 0 <pad>, 1 <unk>
    labels = sorted({l for l, _ in train})
    lid = {l: i for i, l in enumerate(labels)}
    enc = lambda rows: [(lid[l], [vocab.get(w, 1) for w in t]) for l, t in rows]
    train, val, test = enc(train), enc(val), enc(test)
    model = Classifier(len(vocab) + 2, E, H, len(labels))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    prep = time.time() - t0
    t0 = time.time()
    best, best_state, bad, epoch = -1.0, None, 0, 0
    while epoch < epochs and bad < patience:
        out_of_time = False
        for x, lengths, y in batches(train, B, True):
            loss = nn.functional.cross_entropy(model(x, lengths), y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            if seconds and time.time() - t0 >= seconds:
                out_of_time = True
                break
        acc = accuracy(model, val)
        print(f"{name} epoch {epoch}: val acc {acc:.4f} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
        if acc > best:
            best, bad = acc, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
        epoch += 1
        if out_of_time:
            break
    secs = time.time() - t0
    model.load_state_dict(best_state)
    print(f"| {name} | {accuracy(model, test):.4f} | {secs:.0f} (+{prep:.0f} s tokenizing) |", flush=True)


CASES = {
    "trec": lambda: run("TREC", *val_split(tsv(f"{D}/trec/train.tsv", 2), 0.1), tsv(f"{D}/trec/test.tsv", 2),
                        epochs=12, patience=4),
    "sst2": lambda: run("SST-2 sentences", tsv(f"{D}/sst2/sentence_level/train.tsv"),
                        tsv(f"{D}/sst2/sentence_level/dev.tsv"), tsv(f"{D}/sst2/sentence_level/test.tsv"),
                        lr=1e-3, epochs=8),
    "sst2-phrases": lambda: run("SST-2 phrases", tsv(f"{D}/sst2/train.tsv"), tsv(f"{D}/sst2/dev.tsv"),
                                tsv(f"{D}/sst2/sentence_level/test.tsv"), B=64, lr=1e-3, epochs=4, patience=2),
    "agnews": lambda: agnews_case(),
    "imdb": lambda: run("IMDb, 20 min", *val_split(tsv(f"{D}/imdb/train.tsv"), 0.04), tsv(f"{D}/imdb/test.tsv"),
                        html=True, E=100, B=64, max_len=400, max_vocab=30000, epochs=1000, seconds=1200),
}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="*", default=["trec", "sst2", "agnews", "imdb"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1337)
    random.seed(1337)
    print(f"| data set (PyTorch {torch.__version__}, {a.threads} threads) | test accuracy | training seconds |")
    print("|---|--:|--:|")
    for c in a.cases:
        CASES[c]()
