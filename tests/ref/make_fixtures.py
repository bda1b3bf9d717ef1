#!/usr/bin/python3
"""Writes the PyTorch reference fixtures for rnn.c under tests/fixtures/.

Run by hand from the repository root with Debian's python3-torch:
    /usr/bin/python3 tests/ref/make_fixtures.py
Deterministic (each file seeds torch on its own), takes a few seconds, needs
only torch + numpy (and tests/ref/st.py to write safetensors).

Conventions for every file
--------------------------
* All computation is in float64 (modules are .double()); every input, weight
  and upstream gradient is first rounded to a float32-representable value, so
  the stored float32 inputs are exactly what the float64 reference consumed.
  Stored floats are float32 ("F32"); integer tensors are int32 ("I32").
* "Packed" tensors follow torch.nn.utils.rnn.PackedSequence: the batch is
  sorted by length, longest first; rows are time-major, time step t holds
  rows for sequences 0..batch_sizes[t]-1, so row offset of step t is
  sum(batch_sizes[:t]). N = sum(lengths).
* Gradients are stored under "grad." + the name of the tensor they belong to.
  Unless said otherwise a gradient is of the loss
      loss = sum over outputs Y of (Y * dY).sum()
  where dY is the stored random upstream gradient of output Y.

1. Recurrent layers: rnn_{cell}_l{L}_{dir}.safetensors  (16 files)
   cell in lstm, gru, rnn_tanh, rnn_relu (nn.LSTM / nn.GRU / nn.RNN with
   nonlinearity tanh / relu); L in 1, 2 (num_layers); dir in uni, bi.
   I=5 (input size), H=4 (hidden), B=3, lengths [5, 3, 2], D = 2 if bi else 1,
   dropout 0. Weights: PyTorch default init U(-1/sqrt(H), 1/sqrt(H)), then
   every bias (bias_ih and bias_hh) replaced by U(-0.5, 0.5).
     x            (N, I)        PackedSequence.data of the input
     batch_sizes  int32 (T,)    from the PackedSequence (T = max length)
     lengths      int32 (B,)
     h0           (L*D, B, H)   initial hidden state, index layer*D + dir
     c0           (L*D, B, H)   LSTM only
     rnn.weight_ih_l{k}[_reverse], rnn.weight_hh_l{k}[_reverse],
     rnn.bias_ih_l{k}[_reverse], rnn.bias_hh_l{k}[_reverse]
                                 the state_dict of the layer, prefix "rnn."
     y            (N, D*H)      packed output data (fwd features first)
     h_n          (L*D, B, H)   final hidden state (each sequence's own last step)
     c_n          (L*D, B, H)   LSTM only
     dy, dh_n, dc_n (LSTM)      random upstream gradients, same shapes
     loss = (y*dy).sum() + (h_n*dh_n).sum() [+ (c_n*dc_n).sum() for LSTM]
     grad.x, grad.h0, grad.c0 (LSTM), grad.rnn.<every parameter name>
   Plus rnn_{cell}_l2_bi_zero.safetensors (4 files): same layout, L=2, bi, but
   zero initial state: no h0, c0, grad.h0, grad.c0 tensors; lengths [4, 4, 1]
   (tied lengths). dh_n / dc_n and the loss are as above.
   Metadata: cell, num_layers, bidirectional, input_size, hidden_size.

2. Pooling heads: pool_{kind}_{dir}.safetensors  (10 files)
   kind in last, mean, max, meanmax, attention; dir uni (F = H = 4) or
   bi (F = 2H = 8; o_t = [h_fwd ; h_bwd], first H features forward).
   B=3, lengths [5, 3, 2] (no ties), per sequence over its own length L:
     last      uni: o at t=L-1;  bi: [o[:H] at t=L-1 ; o[H:] at t=0]
     mean      (1/L) sum_t o_t
     max       elementwise max over t (inputs random, argmax unique)
     meanmax   [mean ; max]  (width 2F)
     attention sum_t softmax_t(score_t) o_t,
               score_t = attention.2(tanh(attention.0(o_t))), A = 3
   Tensors:
     o            (N, F)  packed input;  batch_sizes int32 (T,);  lengths int32 (B,)
     pooled       (B, F') F' = 2F for meanmax else F
     dpooled      (B, F') random upstream gradient; loss = (pooled*dpooled).sum()
     grad.o       (N, F)
   attention only:
     attention.0.weight (A, F), attention.0.bias (A,), attention.2.weight (1, A)
     (default nn.Linear init), their grad.attention.* gradients, and
     weights      (N,)    softmax weights, packed like o (sum to 1 per sequence)
   Metadata: kind, bidirectional, H.

3. Losses / embedding
   loss_ce.safetensors:  logits (7, 5); targets int32 (7,) with two -100
       entries (ignored); loss (shape []) = F.cross_entropy(logits, targets,
       ignore_index=-100) (mean over the 5 non-ignored rows);
       grad.logits = d loss / d logits (no upstream factor).
   loss_bce.safetensors: logits (6,) including +30 and -30; targets (6,) float
       in {0, 1}; loss (shape []) = F.binary_cross_entropy_with_logits mean;
       grad.logits = d loss / d logits.
   embedding.safetensors: nn.Embedding(V=7, E=3, padding_idx=0):
       weight (7, 3) (row 0 set nonzero on purpose), ids int32 (9,) with 0s and
       repeats, out (9, 3) = weight[ids], dout (9, 3) random,
       grad.weight (7, 3) of (out*dout).sum(): row 0 (padding_idx) is zero.

4. Golden LM training run: lm_golden.safetensors
   Model (PyTorch default init after torch.manual_seed(1234), float64):
     embedding = nn.Embedding(11, 8); rnn = nn.LSTM(8, 16, num_layers=2);
     head = nn.Linear(16, 11).
   data int32 (800,): tokens in [0, 11): a fixed random period-7 pattern,
     each token replaced by a uniform random token with probability 0.1.
   Batching: B=4 streams, Ls = n // B = 200, stream b = data[b*Ls:(b+1)*Ls].
     Step k (k = 0..19) uses positions i = k*T .. k*T+T-1 with T=8:
     inputs x = streams[:, i].T  (T, B) time-major, targets = streams[:, i+1].T.
     (h, c) start at zero and are carried from step to step, detached.
   Loss = mean cross-entropy over all T*B tokens (nats).
   Each step: zero grads, forward, loss.backward(),
     total = clip_grad_norm_(all params, 5.0) (L2 norm over all grads, before
     clipping; grads scaled by 5/(total+1e-6) when total > 5), then
     torch.optim.Adam(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, no weight decay).
   Tensors: initial parameters embedding.weight, rnn.weight_ih_l0,
     rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, ..._l1, head.weight,
     head.bias; data; losses (20,) loss of each step before its update;
     grad_norms (20,) total norm before clipping; final.<name> for every
     parameter after the 20 updates.
   Metadata: B=4, T=8, lr=0.01, clip=5.0, steps=20.
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures")
DT = torch.float64


def r32(t):
    """Round a float tensor to float32-representable values, kept in float64."""
    return t.detach().float().double()


def randn(*shape):
    return r32(torch.randn(*shape, dtype=DT))


def uniform(lo, hi, *shape):
    return r32(torch.empty(*shape, dtype=DT).uniform_(lo, hi))


def i32(t):
    return torch.as_tensor(t).to(torch.int32)


def save(name, tensors, meta=None):
    path = os.path.join(OUT, name)
    st.save(path, tensors, meta)
    scalars = [k for k, v in tensors.items() if getattr(v, "ndim", 1) == 0]
    if scalars:
        _fix_scalar_shapes(path, scalars)
    return path


def _fix_scalar_shapes(path, names):
    """st.save passes tensors through np.ascontiguousarray, which turns a 0-d
    array into shape [1]; rewrite the header so 0-d tensors get shape []."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    for k in names:
        header[k]["shape"] = []
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + raw[8 + n:])


# ---------------------------------------------------------------- 1. recurrent
CELLS = {
    "lstm": lambda I, H, L, bi: nn.LSTM(I, H, L, bidirectional=bi),
    "gru": lambda I, H, L, bi: nn.GRU(I, H, L, bidirectional=bi),
    "rnn_tanh": lambda I, H, L, bi: nn.RNN(I, H, L, nonlinearity="tanh", bidirectional=bi),
    "rnn_relu": lambda I, H, L, bi: nn.RNN(I, H, L, nonlinearity="relu", bidirectional=bi),
}


def make_recurrent(cell, L, bi, zero, seed):
    torch.manual_seed(seed)
    I, H, B = 5, 4, 3
    D = 2 if bi else 1
    lengths = [4, 4, 1] if zero else [5, 3, 2]
    T = max(lengths)
    rnn = CELLS[cell](I, H, L, bi).double()
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            p.copy_(r32(p))
            if name.startswith("bias"):
                p.copy_(uniform(-0.5, 0.5, *p.shape))
    lstm = cell == "lstm"
    xpad = randn(T, B, I)
    packed = pack_padded_sequence(xpad, torch.tensor(lengths), enforce_sorted=True)
    x = packed.data.clone().requires_grad_(True)
    xp = torch.nn.utils.rnn.PackedSequence(x, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    N = x.shape[0]
    h0 = c0 = None
    if not zero:
        h0 = randn(L * D, B, H).requires_grad_(True)
        c0 = randn(L * D, B, H).requires_grad_(True) if lstm else None
    if lstm:
        out, (hn, cn) = rnn(xp, None if zero else (h0, c0))
    else:
        out, hn = rnn(xp, None if zero else h0)
        cn = None
    y = out.data
    dy, dhn = randn(N, D * H), randn(L * D, B, H)
    loss = (y * dy).sum() + (hn * dhn).sum()
    dcn = None
    if lstm:
        dcn = randn(L * D, B, H)
        loss = loss + (cn * dcn).sum()
    loss.backward()

    t = {"x": x, "batch_sizes": i32(packed.batch_sizes), "lengths": i32(lengths),
         "y": y, "h_n": hn, "dy": dy, "dh_n": dhn, "grad.x": x.grad}
    if not zero:
        t["h0"], t["grad.h0"] = h0, h0.grad
    if lstm:
        t["c_n"], t["dc_n"] = cn, dcn
        if not zero:
            t["c0"], t["grad.c0"] = c0, c0.grad
    for name, p in rnn.named_parameters():
        t["rnn." + name] = p
        t["grad.rnn." + name] = p.grad
    fname = "rnn_%s_l%d_%s%s.safetensors" % (cell, L, "bi" if bi else "uni", "_zero" if zero else "")
    return save(fname, t, {"cell": cell, "num_layers": L, "bidirectional": int(bi),
                           "input_size": I, "hidden_size": H,
                           "loss": "(y*dy).sum()+(h_n*dh_n).sum()" + ("+(c_n*dc_n).sum()" if lstm else "")})


# ---------------------------------------------------------------- 2. pooling
def make_pool(kind, bi, seed):
    torch.manual_seed(seed)
    H, B, A = 4, 3, 3
    Fdim = 2 * H if bi else H
    lengths = [5, 3, 2]
    T = max(lengths)
    pad = randn(T, B, Fdim)
    packed = pack_padded_sequence(pad, torch.tensor(lengths), enforce_sorted=True)
    o = packed.data.clone().requires_grad_(True)
    op = torch.nn.utils.rnn.PackedSequence(o, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    opad, _ = pad_packed_sequence(op)  # (T, B, F), zeros at padding
    Lt = torch.tensor(lengths)
    mask = (torch.arange(T)[:, None] < Lt[None, :])  # (T, B)
    t = {"o": o, "batch_sizes": i32(packed.batch_sizes), "lengths": i32(lengths)}
    att = None

    def mean():
        return opad.sum(0) / Lt[:, None].to(DT)

    def mx():
        return opad.masked_fill(~mask[:, :, None], float("-inf")).max(0).values

    if kind == "last":
        fwd = torch.stack([opad[lengths[b] - 1, b, :H] for b in range(B)])
        if bi:
            pooled = torch.cat([fwd, opad[0, :, H:]], 1)
        else:
            pooled = fwd
    elif kind == "mean":
        pooled = mean()
    elif kind == "max":
        pooled = mx()
    elif kind == "meanmax":
        pooled = torch.cat([mean(), mx()], 1)
    elif kind == "attention":
        att = nn.Sequential(nn.Linear(Fdim, A), nn.Tanh(), nn.Linear(A, 1, bias=False)).double()
        with torch.no_grad():
            for p in att.parameters():
                p.copy_(r32(p))
        score = att(opad).squeeze(-1)  # (T, B)
        w = torch.softmax(score.masked_fill(~mask, float("-inf")), 0)
        pooled = (w[:, :, None] * opad).sum(0)
        t["weights"] = pack_padded_sequence(w.detach(), Lt, enforce_sorted=True).data
    dpooled = randn(*pooled.shape)
    (pooled * dpooled).sum().backward()
    t.update({"pooled": pooled, "dpooled": dpooled, "grad.o": o.grad})
    if att is not None:
        for name, p in att.named_parameters():
            t["attention." + name] = p
            t["grad.attention." + name] = p.grad
    fname = "pool_%s_%s.safetensors" % (kind, "bi" if bi else "uni")
    return save(fname, t, {"kind": kind, "bidirectional": int(bi), "H": H,
                           "loss": "(pooled*dpooled).sum()"})


# ---------------------------------------------------------------- 3. losses
def make_ce():
    torch.manual_seed(300)
    logits = (randn(7, 5) * 2).requires_grad_(True)
    targets = torch.tensor([1, -100, 4, 0, 2, -100, 4])
    loss = F.cross_entropy(logits, targets, ignore_index=-100)
    loss.backward()
    return save("loss_ce.safetensors", {"logits": logits, "targets": i32(targets), "loss": loss,
                                        "grad.logits": logits.grad},
                {"reduction": "mean over non-ignored", "ignore_index": -100})


def make_bce():
    torch.manual_seed(301)
    logits = randn(6)
    logits[1], logits[4] = 30.0, -30.0
    logits.requires_grad_(True)
    targets = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], dtype=DT)
    loss = F.binary_cross_entropy_with_logits(logits, targets)
    loss.backward()
    return save("loss_bce.safetensors", {"logits": logits, "targets": targets, "loss": loss,
                                         "grad.logits": logits.grad}, {"reduction": "mean"})


def make_embedding():
    torch.manual_seed(302)
    emb = nn.Embedding(7, 3, padding_idx=0).double()
    with torch.no_grad():
        emb.weight.copy_(randn(7, 3))  # row 0 nonzero on purpose
    ids = torch.tensor([3, 0, 5, 3, 1, 0, 6, 3, 2])
    out = emb(ids)
    dout = randn(9, 3)
    (out * dout).sum().backward()
    return save("embedding.safetensors", {"weight": emb.weight, "ids": i32(ids), "out": out,
                                          "dout": dout, "grad.weight": emb.weight.grad},
                {"padding_idx": 0, "loss": "(out*dout).sum()"})


# ---------------------------------------------------------------- 4. golden LM
class LM(nn.Module):
    def __init__(s, V=11, E=8, H=16, L=2):
        super().__init__()
        s.embedding = nn.Embedding(V, E)
        s.rnn = nn.LSTM(E, H, num_layers=L)
        s.head = nn.Linear(H, V)

    def forward(s, x, state):
        y, state = s.rnn(s.embedding(x), state)
        return s.head(y), state


def train_lm(model, data, B, T, steps, lr, clip, smoothing=0.0):
    """The golden run: data as B streams, T steps of truncated BPTT each,
    Adam, clip; (losses, gradient norms) of every step, before its update."""
    V = model.head.out_features
    Ls = len(data) // B
    streams = data[:B * Ls].view(B, Ls)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    H = model.rnn.hidden_size
    state = (torch.zeros(model.rnn.num_layers, B, H, dtype=DT), torch.zeros(model.rnn.num_layers, B, H, dtype=DT))
    losses, norms = [], []
    for k in range(steps):
        i = k * T
        x = streams[:, i:i + T].t().contiguous()
        y = streams[:, i + 1:i + T + 1].t().contiguous()
        opt.zero_grad()
        logits, state = model(x, state)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), label_smoothing=smoothing)
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), clip)))
        losses.append(float(loss))
        opt.step()
    return losses, norms


def make_lm():
    V, n, B, T, steps, lr, clip = 11, 800, 4, 8, 20, 1e-2, 5.0
    torch.manual_seed(1234)
    model = LM(V).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(r32(p))
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(4321)
    pattern = torch.randint(0, V, (7,), generator=g)
    data = pattern.repeat(n // 7 + 1)[:n].clone()
    noise = torch.rand(n, generator=g) < 0.1
    data[noise] = torch.randint(0, V, (int(noise.sum()),), generator=g)
    losses, norms = train_lm(model, data, B, T, steps, lr, clip)
    t = dict(init)
    t["data"] = i32(data)
    t["losses"] = torch.tensor(losses, dtype=DT)
    t["grad_norms"] = torch.tensor(norms, dtype=DT)
    for k, v in model.state_dict().items():
        t["final." + k] = v
    save("lm_golden.safetensors", t, {"B": "4", "T": "8", "lr": "0.01", "clip": "5.0", "steps": "20"})
    return losses


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    seed = 100
    for cell in CELLS:
        for L in (1, 2):
            for bi in (False, True):
                make_recurrent(cell, L, bi, False, seed)
                seed += 1
        make_recurrent(cell, 2, True, True, seed)
        seed += 1
    seed = 200
    for kind in ("last", "mean", "max", "meanmax", "attention"):
        for bi in (False, True):
            make_pool(kind, bi, seed)
            seed += 1
    make_ce()
    make_bce()
    make_embedding()
    losses = make_lm()
    print("golden losses:", " ".join("%.6f" % v for v in losses))


if __name__ == "__main__":
    main()
