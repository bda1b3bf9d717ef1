#!/usr/bin/python3
"""Writes the PyTorch fixtures of the training loss's options, rnn train's
--class-weight and --label-smoothing, under tests/fixtures/:

    /usr/bin/python3 tests/ref/make_loss_fixtures.py     # from the repository root

Deterministic, a second or two, torch + numpy only. Conventions as in
tests/ref/make_fixtures.py: float64 computation from float32-rounded inputs,
float32 ("F32") and int32 ("I32") tensors, gradients under "grad." + name.
The plain losses' fixtures (loss_ce, loss_bce, lm_golden) are make_fixtures.py's
and are not touched here.

1. One batch of logits: loss_cfg_<case>.safetensors
     logits       (N, C) for ce, (N,) for bce
     targets      ce: int32 (N,), -100 marks an ignored row; bce: float (N,) in {0, 1}
     weight       (C,) class weights (bce: (2,), class 0 then class 1), cases "w" only
     loss         (shape []) the mean loss of the case
     grad.logits  d loss / d logits
   Metadata: loss ("ce" | "bce"), smoothing (the label smoothing, "%.9g").
   ce_w        F.cross_entropy(logits, targets, weight=w): sum_n w_y l_n / sum_n w_y
   ce_ls       F.cross_entropy(..., label_smoothing=0.1)
   ce_wls      F.cross_entropy(..., weight=w, label_smoothing=0.2): PyTorch's
               weighted smoothing (each class's -log p_c term weighted by w_c,
               the sum divided by sum_n w_y as the weighted NLL is)
   ce_ls_wide  C = 1031 (a 1024-wide block and a ragged tail, as a language
               model's rows), label_smoothing=0.1, no weights
   (each ce case has two ignored rows, which add nothing and get zero gradient)
   bce_w       F.binary_cross_entropy_with_logits(x, y, weight=w[y]): mean of
               w_y l_n over the batch (not divided by the weights' sum); x = +-30 included
   bce_wls     the same with the targets smoothed, y (1 - 0.2) + 0.2 / 2

2. lm_golden_smooth.safetensors: make_fixtures.py's golden language-model run
   (lm_golden.safetensors: its initial weights and data, read from that file;
   B=4, T=8, 20 steps, Adam 1e-2, clip 5) trained with
   F.cross_entropy(..., label_smoothing=0.1). Tensors: losses (20,) (the
   smoothed loss of each step before its update), grad_norms (20,),
   final.<name> for every parameter. Metadata: smoothing.

3. cls_golden_<ce|bce>.safetensors: 12 training steps of a tiny classifier,
   the PyTorch twin of an rnn.c model with pool "last":
     embedding = nn.Embedding(13, 6); rnn = nn.LSTM(6, 8) (1 layer, forward);
     head = nn.Linear(8, 3) (ce) or nn.Linear(8, 1) (bce); default init after
     torch.manual_seed(500 | 501), rounded to float32.
   Step k's batch: 4 sequences, lengths in [1, 7] sorted longest first (ties
   allowed), ids uniform in [0, 13), labels uniform over the classes; the
   pooled feature is each sequence's LSTM state at its own last step
   (pack_padded_sequence, h_n). Loss: ce F.cross_entropy(logits, y,
   weight=w, label_smoothing=0.1), w = (0.5, 2, 1.25); bce
   F.binary_cross_entropy_with_logits(logit, y (1 - 0.2) + 0.1,
   weight=w[y]), w = (0.7, 1.8). Each step: zero grads, forward, backward,
   clip_grad_norm_(5.0), Adam(lr=1e-2).
   Tensors: the initial parameters by state_dict name; ids int32 (12, 4, 7)
   (padded with 0); lengths int32 (12, 4); labels int32 (12, 4); weight;
   losses (12,); grad_norms (12,); final.<name>. Metadata: loss, smoothing,
   steps, B, T, lr, clip.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from make_fixtures import LM, OUT, DT, i32, r32, randn, save, train_lm  # noqa: E402


# ---------------------------------------------------------------- 1. one batch
def ce_case(name, seed, N, C, weight, smoothing, ignored):
    torch.manual_seed(seed)
    logits = (randn(N, C) * 2).requires_grad_(True)
    targets = torch.randint(0, C, (N,))
    targets[list(ignored)] = -100
    w = None if weight is None else r32(torch.tensor(weight, dtype=DT))
    loss = F.cross_entropy(logits, targets, weight=w, ignore_index=-100, label_smoothing=smoothing)
    loss.backward()
    t = {"logits": logits, "targets": i32(targets), "loss": loss, "grad.logits": logits.grad}
    if w is not None:
        t["weight"] = w
    return save("loss_cfg_%s.safetensors" % name, t, {"loss": "ce", "smoothing": "%.9g" % smoothing})


def bce_case(name, seed, N, weight, smoothing):
    torch.manual_seed(seed)
    logits = randn(N)
    logits[1], logits[4] = 30.0, -30.0
    logits.requires_grad_(True)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0][:N], dtype=DT)
    w = r32(torch.tensor(weight, dtype=DT))
    loss = F.binary_cross_entropy_with_logits(logits, y * (1 - smoothing) + smoothing / 2,
                                              weight=w[y.long()])
    loss.backward()
    return save("loss_cfg_%s.safetensors" % name,
                {"logits": logits, "targets": y, "weight": w, "loss": loss, "grad.logits": logits.grad},
                {"loss": "bce", "smoothing": "%.9g" % smoothing})


# ---------------------------------------------------------------- 2. golden LM, smoothed
def make_lm_smooth(smoothing=0.1):
    t, meta = st.load(os.path.join(OUT, "lm_golden.safetensors"))
    B, T, steps = int(meta["B"]), int(meta["T"]), int(meta["steps"])
    lr, clip = float(meta["lr"]), float(meta["clip"])
    V = t["embedding.weight"].shape[0]
    model = LM(V).double()
    model.load_state_dict({k: torch.tensor(t[k], dtype=DT) for k in model.state_dict()})
    data = torch.tensor(t["data"]).long()
    losses, norms = train_lm(model, data, B, T, steps, lr, clip, smoothing)
    out = {"losses": torch.tensor(losses, dtype=DT), "grad_norms": torch.tensor(norms, dtype=DT)}
    for k, v in model.state_dict().items():
        out["final." + k] = v
    save("lm_golden_smooth.safetensors", out, dict(meta, smoothing="%.9g" % smoothing))
    return losses


# ---------------------------------------------------------------- 3. golden classifier
class Classifier(nn.Module):
    def __init__(s, V, E, H, n_out):
        super().__init__()
        s.embedding = nn.Embedding(V, E)
        s.rnn = nn.LSTM(E, H, batch_first=True)
        s.head = nn.Linear(H, n_out)

    def forward(s, ids, lengths):
        packed = pack_padded_sequence(s.embedding(ids), lengths, batch_first=True, enforce_sorted=True)
        _, (h, _) = s.rnn(packed)
        return s.head(h[-1])  # pool "last": each sequence's state at its own last step


def make_cls(loss_kind, seed, weight, smoothing):
    V, E, H, C, B, T, steps, lr, clip = 13, 6, 8, 3 if loss_kind == "ce" else 2, 4, 7, 12, 1e-2, 5.0
    torch.manual_seed(seed)
    model = Classifier(V, E, H, C if loss_kind == "ce" else 1).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(r32(p))
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    w = r32(torch.tensor(weight, dtype=DT))
    g = torch.Generator().manual_seed(seed + 1000)
    lengths = torch.sort(torch.randint(1, T + 1, (steps, B), generator=g), dim=1, descending=True).values
    ids = torch.randint(0, V, (steps, B, T), generator=g)
    for k in range(steps):
        for b in range(B):
            ids[k, b, lengths[k, b]:] = 0
    labels = torch.randint(0, C, (steps, B), generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses, norms = [], []
    for k in range(steps):
        opt.zero_grad()
        logits = model(ids[k], lengths[k])
        y = labels[k]
        if loss_kind == "ce":
            loss = F.cross_entropy(logits, y, weight=w, label_smoothing=smoothing)
        else:
            yf = y.to(DT)
            loss = F.binary_cross_entropy_with_logits(logits[:, 0], yf * (1 - smoothing) + smoothing / 2,
                                                      weight=w[y])
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), clip)))
        losses.append(float(loss))
        opt.step()
    t = dict(init)
    t.update({"ids": i32(ids), "lengths": i32(lengths), "labels": i32(labels), "weight": w,
              "losses": torch.tensor(losses, dtype=DT), "grad_norms": torch.tensor(norms, dtype=DT)})
    for k, v in model.state_dict().items():
        t["final." + k] = v
    save("cls_golden_%s.safetensors" % loss_kind, t,
         {"loss": loss_kind, "smoothing": "%.9g" % smoothing, "steps": str(steps), "B": str(B), "T": str(T),
          "lr": "0.01", "clip": "5.0"})
    return losses


def main():
    torch.set_num_threads(1)
    ce_case("ce_w", 310, 7, 5, [0.5, 2.0, 1.0, 3.0, 0.25], 0.0, (1, 5))
    ce_case("ce_ls", 311, 7, 5, None, 0.1, (1, 5))
    ce_case("ce_wls", 312, 7, 5, [0.5, 2.0, 1.0, 3.0, 0.25], 0.2, (2, 4))
    ce_case("ce_ls_wide", 313, 6, 1031, None, 0.1, (3,))
    bce_case("bce_w", 314, 8, [0.7, 1.8], 0.0)
    bce_case("bce_wls", 315, 8, [0.7, 1.8], 0.2)
    print("smoothed golden LM losses:", " ".join("%.6f" % v for v in make_lm_smooth()))
    print("classifier (ce) losses:", " ".join("%.6f" % v for v in make_cls("ce", 500, [0.5, 2.0, 1.25], 0.1)))
    print("classifier (bce) losses:", " ".join("%.6f" % v for v in make_cls("bce", 501, [0.7, 1.8], 0.2)))


if __name__ == "__main__":
    main()
