#!/usr/bin/python3
"""Writes the whole-model gradient fixtures for tests/test_grad_combos.c under
tests/fixtures/ (grad_<case>.safetensors, one file per case below):

    /usr/bin/python3 tests/ref/make_grad_fixtures.py     # from the repository root

Deterministic (each case seeds torch on its own), a few seconds, torch + numpy
only. Conventions as in tests/ref/make_fixtures.py: float64 computation from
float32-rounded inputs and weights, float32 ("F32") and int32 ("I32")
tensors, gradients under "grad." + the parameter's name.

Each case is one rnn.c model (its config in the metadata, as a checkpoint
holds it) built in PyTorch float64 from the same tensors, one forward over a
packed batch, the training loss (class weights, label smoothing) and one
backward: the gradient of every parameter. The combinations are the ones the
layer fixtures (make_fixtures.py: one recurrent stack, one pooling head, one
loss at a time) and the float32 finite differences of tests/test_layers.c
(tolerance 2e-2, no relu) do not reach: bidirectional residual stacks of 2
and 3 layers of every cell under every pooling, a random initial state,
padding ids in ragged batches, weighted and smoothed ce and bce, frozen and
tied embeddings.

The PyTorch twin of an rnn.c model (docs/checkpoints.md):
  x        = F.embedding(ids, embedding.weight, padding_idx): the padding row
             is zero (as rnn.c keeps it) and gets no gradient; frozen: no
             gradient at all (grad.embedding.weight stored as zeros)
  layer l  = nn.LSTM / nn.GRU / nn.RNN(tanh | relu), one layer, on the
             PackedSequence (bidirectional: the reverse direction starts at
             each sequence's own last token); input E wide for l = 0, D*H
             above; weights rnn.weight_ih_l{l}[_reverse] etc.; initial state
             h0[l*D + d] (c0 for the LSTM), zero when the case has none;
             residual: layer l > 0's output plus its input
  cell none (bag of embeddings): no layers, the pooling reads x
  lm       logits = top @ W^T + head.bias, W = head.weight, or
             embedding.weight when tied (tie_weights; its gradient sums both
             ends; a frozen tied embedding is a frozen output layer too)
  classify pooled over each sequence's own length, as make_fixtures.py's
             pool_* cases (last: [fwd at t=L-1 ; bwd at t=0]; mean; max;
             meanmax = [mean ; max]; attention: softmax over t of
             attention.2(tanh(attention.0(o_t)))), logits = head(pooled)
  loss     ce: F.cross_entropy(logits, targets, weight=w, label_smoothing=s,
             ignore_index=-100); bce: F.binary_cross_entropy_with_logits(
             logit, y (1 - s) + s / 2, weight=w[y]) (make_loss_fixtures.py)

Weights are drawn larger than PyTorch's init (U(+-1.2/sqrt(fan_in)), biases
U(-0.5, 0.5), embedding N(0, 0.8^2)) for a sharper test. A relu cell's
pre-activations and max pooling's top-two gaps are kept at least 1e-4 from
a tie (a case is redrawn from seed + 1000 otherwise), so that float32
rounding cannot move a kink and the float32 rnn.c must land within ~1e-6.

Tensors of grad_<case>.safetensors:
  <name>, grad.<name>  every parameter of the model by its state_dict name
                       (rnn_model's parameter table) and its gradient
  ids          int32 (N,)   token ids, packed (PackedSequence order: time-major,
                            sequences sorted longest first, N = sum(lengths))
  lengths      int32 (B,)   sorted longest first (ties allowed)
  batch_sizes  int32 (T,)
  targets      int32 (B,) class of each sequence (classify) or (N,) packed
                            next tokens (lm; -100: ignored)
  weight       (C,) class weights, cases with weights only (bce: class 0, class 1)
  h0, c0       (L*D, B, H)  initial state, cases "state" only (c0: lstm)
  logits       (B, n_out) or (N, V)  the forward's
  loss         shape []     the loss
Metadata: config (rnn.c's config JSON, rnn_config_from_json), smoothing
("%.9g"), freeze_embedding ("0" | "1": not part of the config), about (the
case in words).
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import DT, OUT, i32, r32, randn, save, uniform  # noqa: E402

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1, "none": 0}
MODULES = {
    "lstm": lambda I, H, bi: nn.LSTM(I, H, 1, bidirectional=bi),
    "gru": lambda I, H, bi: nn.GRU(I, H, 1, bidirectional=bi),
    "rnn_tanh": lambda I, H, bi: nn.RNN(I, H, 1, nonlinearity="tanh", bidirectional=bi),
    "rnn_relu": lambda I, H, bi: nn.RNN(I, H, 1, nonlinearity="relu", bidirectional=bi),
}
MARGIN = 1e-4  # the least distance of a relu pre-activation from 0, of a max from the runner-up

# name: settings. Every case: vocab V, embed E, hidden H, layers L, lengths (sorted
# longest first), padding id pad (-1: none; pads: how many rows take it), state
# (random initial state), loss / weight / ls, freeze, tie.
CLS = dict(task="classify", V=11, E=6, H=5, bi=True, residual=True, A=3, C=3, loss="ce", weight=None,
           ls=0.0, pad=-1, pads=0, state=False, freeze=False, tie=False)
LM = dict(task="lm", V=9, E=6, H=6, L=2, bi=False, residual=False, weight=None, ls=0.0, pad=-1, pads=0,
          state=False, freeze=False, tie=False, ignore=0, lengths=[6, 6, 6, 6])
CASES = {
    "cls_lstm_l2_bi_res_attention": dict(CLS, cell="lstm", L=2, pool="attention", lengths=[7, 5, 5, 3, 1],
                                         pad=0, pads=3, weight=[0.5, 2.0, 1.25], ls=0.1),
    "cls_gru_l3_bi_res_meanmax": dict(CLS, cell="gru", L=3, pool="meanmax", lengths=[6, 6, 4, 2], C=2,
                                      loss="bce", weight=[0.7, 1.8], ls=0.2, pad=0, pads=2),
    "cls_rnn_tanh_l2_bi_res_max": dict(CLS, cell="rnn_tanh", L=2, pool="max", lengths=[7, 6, 4, 3, 3], C=4,
                                       pad=2, pads=2),
    "cls_rnn_relu_l3_bi_res_mean": dict(CLS, cell="rnn_relu", L=3, pool="mean", lengths=[7, 4, 4, 2], ls=0.1,
                                        pad=0, pads=2),
    "cls_lstm_l3_bi_res_last_state": dict(CLS, cell="lstm", L=3, pool="last", lengths=[6, 5, 3, 2, 1],
                                          state=True, weight=[1.5, 0.5, 1.0]),
    "cls_gru_l2_bi_res_last_frozen": dict(CLS, cell="gru", L=2, pool="last", lengths=[7, 7, 3, 2], C=2,
                                          loss="bce", weight=[1.4, 0.6], freeze=True, pad=0, pads=2),
    "cls_rnn_relu_l2_bi_res_attention_state": dict(CLS, cell="rnn_relu", L=2, pool="attention",
                                                   lengths=[6, 4, 3, 1], C=2, loss="bce", ls=0.15,
                                                   state=True),
    "cls_rnn_tanh_l3_bi_res_meanmax_frozen": dict(CLS, cell="rnn_tanh", L=3, pool="meanmax",
                                                  lengths=[5, 5, 4, 2], weight=[0.3, 1.0, 2.2], ls=0.2,
                                                  freeze=True),
    "cls_lstm_l2_bi_mean": dict(CLS, cell="lstm", L=2, pool="mean", residual=False, lengths=[7, 6, 2, 1],
                                ls=0.1, pad=0, pads=2),
    "cls_gru_l2_uni_res_max_state": dict(CLS, cell="gru", L=2, bi=False, pool="max", lengths=[7, 5, 4, 2],
                                         state=True),
    "cls_none_attention": dict(CLS, cell="none", L=1, pool="attention", lengths=[7, 4, 3, 3, 1],
                               weight=[2.0, 1.0, 0.5], ls=0.1, pad=0, pads=2),
    "cls_none_meanmax_bce": dict(CLS, cell="none", L=1, pool="meanmax", lengths=[6, 5, 2], C=2, loss="bce",
                                 weight=[0.8, 1.3], ls=0.1),
    "lm_lstm_l3_res_state": dict(LM, cell="lstm", L=3, residual=True, E=6, H=6, state=True, ls=0.1,
                                 ignore=2, pad=0, pads=3),
    "lm_gru_l2_tied": dict(LM, cell="gru", tie=True, ls=0.1),
    "lm_rnn_relu_l2_res_ragged": dict(LM, cell="rnn_relu", residual=True, lengths=[7, 5, 5, 2], state=True),
    "lm_rnn_tanh_l2_res_tied_frozen": dict(LM, cell="rnn_tanh", residual=True, tie=True, freeze=True, ls=0.2),
    "lm_lstm_l2_frozen": dict(LM, cell="lstm", E=5, H=4, freeze=True, lengths=[5, 5, 5]),
}


def config_json(s):
    """The case's rnn.c config (rnn_config_to_json's keys)."""
    c = {"task": s["task"], "cell": s["cell"], "vocab_size": s["V"], "embed_dim": s["E"], "hidden_dim": s["H"],
         "num_layers": s["L"], "bidirectional": s["bi"], "residual": s["residual"], "padding_id": s["pad"]}
    if s["tie"]:
        c["tie_weights"] = True
    if s["task"] == "classify":
        c.update(pool=s["pool"], attention_dim=s["A"], num_classes=s["C"], loss=s["loss"])
    return json.dumps(c, separators=(",", ":"))


def draw(s):
    """The case's parameters (name -> float64 leaf) and batch, from the current torch seed."""
    V, E, H, L = s["V"], s["E"], s["H"], s["L"] if s["cell"] != "none" else 0
    D = 2 if s["bi"] and L else 1
    G = GATES[s["cell"]]
    P = {}
    emb = r32(torch.randn(V, E, dtype=DT) * 0.8)
    if s["pad"] >= 0:
        emb[s["pad"]] = 0
    P["embedding.weight"] = emb
    for l in range(L):
        In = E if l == 0 else D * H
        for d in range(D):
            sfx = "_reverse" if d else ""
            P["rnn.weight_ih_l%d%s" % (l, sfx)] = uniform(-1.2 / In ** 0.5, 1.2 / In ** 0.5, G * H, In)
            P["rnn.weight_hh_l%d%s" % (l, sfx)] = uniform(-1.2 / H ** 0.5, 1.2 / H ** 0.5, G * H, H)
            P["rnn.bias_ih_l%d%s" % (l, sfx)] = uniform(-0.5, 0.5, G * H)
            P["rnn.bias_hh_l%d%s" % (l, sfx)] = uniform(-0.5, 0.5, G * H)
    Fw = D * H if L else E
    if s["task"] == "lm":
        n_out, head_in = V, Fw
    else:
        n_out = 1 if s["loss"] == "bce" else s["C"]
        head_in = 2 * Fw if s["pool"] == "meanmax" else Fw
        if s["pool"] == "attention":
            A = s["A"]
            P["attention.0.weight"] = uniform(-1.5 / Fw ** 0.5, 1.5 / Fw ** 0.5, A, Fw)
            P["attention.0.bias"] = uniform(-0.5, 0.5, A)
            P["attention.2.weight"] = uniform(-1.0, 1.0, 1, A)
    if not s["tie"]:
        P["head.weight"] = uniform(-1.5 / head_in ** 0.5, 1.5 / head_in ** 0.5, n_out, head_in)
    P["head.bias"] = uniform(-0.5, 0.5, n_out)

    lengths = s["lengths"]
    B, T = len(lengths), lengths[0]
    ids_pad = torch.randint(0, V, (T, B))
    if s["pad"] >= 0:  # the padding id's rows: never where the ids would have to avoid it
        ids_pad[ids_pad == s["pad"]] = (s["pad"] + 1) % V
    packed = pack_padded_sequence(ids_pad, torch.tensor(lengths), enforce_sorted=True)
    ids = packed.data.clone()
    N = ids.numel()
    if s["pads"]:
        ids[torch.randperm(N)[:s["pads"]]] = s["pad"]
    batch = {"ids": ids, "lengths": lengths, "batch_sizes": packed.batch_sizes}
    if s["task"] == "lm":
        tg = torch.randint(0, V, (N,))
        if s["ignore"]:
            tg[torch.randperm(N)[:s["ignore"]]] = -100
    else:
        tg = torch.randint(0, s["C"], (B,))
        if s["loss"] == "bce":  # both classes in the batch
            tg[0], tg[1] = 1, 0
    batch["targets"] = tg
    if s["state"]:
        batch["h0"] = r32(torch.randn(L * D, B, H, dtype=DT) * 0.5)
        if s["cell"] == "lstm":
            batch["c0"] = r32(torch.randn(L * D, B, H, dtype=DT) * 0.5)
    return P, batch


def relu_margin(mod, x, y, lengths, bs, h0, D, H):
    """The least |pre-activation| of a relu layer over every real step of both directions."""
    xp, _ = pad_packed_sequence(PackedSequence(x, bs))  # (T, B, In)
    yp, _ = pad_packed_sequence(PackedSequence(y, bs))  # (T, B, D*H)
    T, B = xp.shape[0], xp.shape[1]
    worst = float("inf")
    for d in range(D):
        sfx = "_reverse" if d else ""
        w_ih, w_hh = getattr(mod, "weight_ih_l0" + sfx), getattr(mod, "weight_hh_l0" + sfx)
        b = getattr(mod, "bias_ih_l0" + sfx) + getattr(mod, "bias_hh_l0" + sfx)
        yd = yp[..., d * H:(d + 1) * H]
        for bb in range(B):
            n = lengths[bb]
            for t in range(n):
                tp = t - 1 if d == 0 else t + 1
                hp = yd[tp, bb] if 0 <= tp < n else (h0[d, bb] if h0 is not None else torch.zeros(H, dtype=DT))
                a = xp[t, bb] @ w_ih.t() + hp @ w_hh.t() + b
                worst = min(worst, float(a.abs().min()))
    return worst


def forward(s, P, batch):
    """loss, logits, the parameter leaves (recurrent ones inside their modules), kink margin."""
    L = s["L"] if s["cell"] != "none" else 0
    D = 2 if s["bi"] and L else 1
    H, lengths, bs = s["H"], batch["lengths"], batch["batch_sizes"]
    leaves = {}
    for k, v in P.items():
        if not k.startswith("rnn."):
            leaves[k] = v.clone().requires_grad_(not (k == "embedding.weight" and s["freeze"]))
    emb = leaves["embedding.weight"]
    x = F.embedding(batch["ids"], emb, padding_idx=s["pad"] if s["pad"] >= 0 else None)
    margin = float("inf")
    for l in range(L):
        In = x.shape[1]
        mod = MODULES[s["cell"]](In, H, s["bi"]).double()
        with torch.no_grad():
            for n, p in mod.named_parameters():
                p.copy_(P["rnn." + n.replace("_l0", "_l%d" % l)])
        for n, p in mod.named_parameters():
            leaves["rnn." + n.replace("_l0", "_l%d" % l)] = p
        st0, h0 = None, None
        if s["state"]:
            h0 = batch["h0"][l * D:(l + 1) * D]
            st0 = (h0, batch["c0"][l * D:(l + 1) * D]) if s["cell"] == "lstm" else h0
        out, _ = mod(PackedSequence(x, bs), st0)
        y = out.data
        if s["cell"] == "rnn_relu":
            margin = min(margin, relu_margin(mod, x.detach(), y.detach(), lengths, bs, h0, D, H))
        if s["residual"] and l > 0:
            y = y + x
        x = y
    top = x
    if s["task"] == "lm":
        W = emb if s["tie"] else leaves["head.weight"]
        logits = top @ W.t() + leaves["head.bias"]
        loss = F.cross_entropy(logits, batch["targets"], label_smoothing=s["ls"], ignore_index=-100)
        return loss, logits, leaves, margin
    op, _ = pad_packed_sequence(PackedSequence(top, bs))  # (T, B, F), zeros past each length
    T, B, Fw = op.shape
    Lt = torch.tensor(lengths)
    mask = torch.arange(T)[:, None] < Lt[None, :]  # (T, B)
    pool = s["pool"]

    def mean():
        return op.sum(0) / Lt[:, None].to(DT)

    def mx():
        nonlocal margin
        filled = op.masked_fill(~mask[:, :, None], float("-inf"))
        top2 = filled.detach().topk(2, dim=0).values if T > 1 else None
        for b in range(B):
            if lengths[b] > 1:
                margin = min(margin, float((top2[0, b] - top2[1, b]).min()))
        return filled.max(0).values

    if pool == "last":
        Hh = Fw // D
        fwd = torch.stack([op[lengths[b] - 1, b, :Hh] for b in range(B)])
        pooled = torch.cat([fwd, op[0, :, Hh:]], 1) if D == 2 else fwd
    elif pool == "mean":
        pooled = mean()
    elif pool == "max":
        pooled = mx()
    elif pool == "meanmax":
        pooled = torch.cat([mean(), mx()], 1)
    else:
        u = torch.tanh(op @ leaves["attention.0.weight"].t() + leaves["attention.0.bias"])
        score = (u @ leaves["attention.2.weight"].t())[..., 0]
        w = torch.softmax(score.masked_fill(~mask, float("-inf")), 0)
        pooled = (w[:, :, None] * op).sum(0)
    logits = pooled @ leaves["head.weight"].t() + leaves["head.bias"]
    tg = batch["targets"]
    cw = None if s["weight"] is None else r32(torch.tensor(s["weight"], dtype=DT))
    if s["loss"] == "bce":
        y = tg.to(DT)
        loss = F.binary_cross_entropy_with_logits(logits[:, 0], y * (1 - s["ls"]) + s["ls"] / 2,
                                                  weight=None if cw is None else cw[tg])
    else:
        loss = F.cross_entropy(logits, tg, weight=cw, label_smoothing=s["ls"])
    return loss, logits, leaves, margin


def make_case(name, s, seed):
    for attempt in range(20):
        torch.manual_seed(seed + 1000 * attempt)
        P, batch = draw(s)
        loss, logits, leaves, margin = forward(s, P, batch)
        if margin >= MARGIN:
            break
    else:
        raise SystemExit("%s: no draw keeps its kinks %g apart" % (name, MARGIN))
    loss.backward()
    t = {}
    for k, v in P.items():
        t[k] = v
        g = leaves[k].grad
        t["grad." + k] = torch.zeros_like(v) if g is None else g
    t.update({"ids": i32(batch["ids"]), "lengths": i32(batch["lengths"]),
              "batch_sizes": i32(batch["batch_sizes"]), "targets": i32(batch["targets"]),
              "logits": logits, "loss": loss})
    if s.get("weight") is not None:
        t["weight"] = r32(torch.tensor(s["weight"], dtype=DT))
    for k in ("h0", "c0"):
        if k in batch:
            t[k] = batch[k]
    about = "%s %s, %d layer(s)%s%s" % (s["task"], s["cell"], s["L"], ", bidirectional" if s["bi"] else "",
                                        ", residual" if s["residual"] else "")
    if s["task"] == "classify":
        about += ", pool %s, %s" % (s["pool"], s["loss"])
    for flag, words in (("state", "random initial state"), ("freeze", "frozen embedding"),
                        ("tie", "tied embedding")):
        if s[flag]:
            about += ", " + words
    if s["weight"] is not None:
        about += ", class weights"
    if s["ls"]:
        about += ", label smoothing %g" % s["ls"]
    if s["pads"]:
        about += ", %d padding ids" % s["pads"]
    about += ", lengths %s" % ",".join(map(str, s["lengths"]))
    save("grad_%s.safetensors" % name, t,
         {"config": config_json(s), "smoothing": "%.9g" % s["ls"], "freeze_embedding": int(s["freeze"]),
          "about": about})
    return float(loss), margin, attempt


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    seed = 700
    for name, s in CASES.items():
        loss, margin, attempt = make_case(name, s, seed)
        print("%-40s loss %.6f%s%s" % (name, loss, "  kink margin %.1e" % margin if margin < float("inf") else "",
                                        "  (draw %d)" % attempt if attempt else ""))
        seed += 1


if __name__ == "__main__":
    main()
