"""Writes the optimizer / clipping / schedule fixtures for tests/test_optim.c.

    /usr/bin/python3 tests/ref/make_optim_fixtures.py     # from the repository root

Outputs (deterministic, a few KB):
  tests/fixtures/optim_steps.safetensors     5 steps of each optimizer config
  tests/fixtures/optim_clip.safetensors      clip_grad_norm_ / clip_grad_value_
  tests/fixtures/optim_plateau.safetensors   ReduceLROnPlateau lr sequences
  tests/fixtures/optim_defaults.safetensors  torch.optim default hyperparameters

Every config's hyperparameters are written into the fixture (the C test builds
its rnn_optim_config from them), so the table below is the only list. Torch
computes in float64 from float32-rounded inputs and hyperparameters, so the
C float32 replay differs from it only by its own rounding.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
N = 37          # parameters
STEPS = 5
RESUME_AT = 2   # the state after this many steps is saved too (resume test)

# Order = rnn_opt_type: RNN_OPT_SGD, RNN_OPT_ADAM, RNN_OPT_ADAMW, RNN_OPT_RMSPROP.
TYPES = {"sgd": (0, torch.optim.SGD), "adam": (1, torch.optim.Adam),
         "adamw": (2, torch.optim.AdamW), "rmsprop": (3, torch.optim.RMSprop)}
# Layout of each "<name>.hp" tensor; the C test reads it in this order.
HP = ["type", "lr", "beta1", "beta2", "eps", "weight_decay", "momentum", "dampening", "alpha",
      "nesterov", "centered"]

# The torch constructor arguments that the C config mirrors.
HP_TORCH = {"lr", "betas", "eps", "weight_decay", "momentum", "dampening", "alpha", "nesterov",
            "centered"}

# name: (type, kwargs, groups [(begin, end, lr)] -- elements outside every group are frozen --,
#        gradient scale, a power of two so that scaling is exact in float32 too)
CONFIGS = {
    "sgd_plain": ("sgd", dict(lr=0.1), None, 1.0),
    "sgd_momentum": ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-2), None, 1.0),
    "sgd_nesterov": ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True), None, 1.0),
    "adam_default": ("adam", dict(), None, 1.0),
    "adam_wd": ("adam", dict(weight_decay=1e-2), None, 1.0),
    "adamw_wd": ("adamw", dict(lr=1e-2, weight_decay=0.05), None, 1.0),
    # small gradients against a large eps: fails if eps is placed differently
    "adam_bigeps": ("adam", dict(lr=1e-2, eps=1e-2), None, 2.0**-7),
    "rmsprop_default": ("rmsprop", dict(), None, 1.0),
    "rmsprop_centered": ("rmsprop", dict(momentum=0.9, centered=True, weight_decay=1e-3), None, 1.0),
    # parameter groups with their own lr; [30, 37) frozen
    "adamw_groups": ("adamw", dict(weight_decay=0.05), [(0, 20, 1e-2), (20, 30, 3e-3)], 1.0),
    # (nesterov with weight decay: the nesterov term uses the decayed gradient)
    "sgd_groups": ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=1e-2, nesterov=True),
                   [(0, 20, 0.1), (20, 30, 0.02)], 1.0),
    "rmsprop_groups": ("rmsprop", dict(momentum=0.5), [(0, 20, 1e-2), (20, 30, 1e-3)], 1.0),
}


def f32(x):
    """The float32 value of x, as a Python float (what the C side sees)."""
    return float(np.float32(x))


def round32(t):
    return t.float().double()


def hp_values(d):
    """An optimizer's defaults dict as the values of HP[1:] (0 where it has no such field)."""
    betas = d.get("betas", (0.0, 0.0))
    v = dict(d, beta1=betas[0], beta2=betas[1])
    return [float(v.get(k, 0.0)) for k in HP[1:]]


def run_config(name, p0, grads):
    tname, kwargs, groups, gscale = CONFIGS[name]
    tid, cls = TYPES[tname]
    # Every hyperparameter explicit and float32-rounded (the C side gets 0.999f, not 0.999).
    full = {k: v for k, v in cls([torch.zeros(1)], lr=1.0).defaults.items() if k in HP_TORCH}
    full["lr"] = kwargs["lr"] if "lr" in kwargs else cls([torch.zeros(1)]).defaults["lr"]
    full.update(kwargs)
    kwargs = {k: (tuple(f32(x) for x in v) if k == "betas" else f32(v) if isinstance(v, float) else v)
              for k, v in full.items()}
    grads = grads * gscale
    if groups is None:
        groups = [(0, N, kwargs["lr"])]
    groups = [(b, e, f32(lr)) for b, e, lr in groups]
    # One leaf tensor per group, as a model with param_groups would have.
    leaves = [p0[b:e].clone().requires_grad_(True) for b, e, _ in groups]
    opt = cls([{"params": [leaf], "lr": lr} for leaf, (_, _, lr) in zip(leaves, groups)], **kwargs)

    def flat_params(prev):
        out = prev.clone()
        for leaf, (b, e, _) in zip(leaves, groups):
            out[b:e] = leaf.detach()
        return out

    def flat_state():
        # (SGD without momentum keeps momentum_buffer = None: no buffer)
        names = [k for k, v in opt.state[leaves[0]].items() if k != "step" and v is not None]
        out = {}
        for k in names:
            buf = torch.zeros(N, dtype=torch.float64)
            for leaf, (b, e, _) in zip(leaves, groups):
                buf[b:e] = opt.state[leaf][k]
            out[k] = buf
        return names, out

    params, state2, cur = [], None, p0
    for s in range(STEPS):
        for leaf, (b, e, _) in zip(leaves, groups):
            leaf.grad = grads[s, b:e].clone()
        opt.step()
        cur = flat_params(cur)
        params.append(cur.clone())
        if s + 1 == RESUME_AT:
            state2 = flat_state()[1]
    buf_names, state = flat_state()

    t = {
        f"{name}.gscale": np.array([gscale], dtype=np.float32),
        f"{name}.hp": np.array([tid] + hp_values(opt.defaults), dtype=np.float32),
        f"{name}.groups": np.array([[b, e] for b, e, _ in groups], dtype=np.int32),
        f"{name}.lrs": np.array([lr for _, _, lr in groups], dtype=np.float32),
        f"{name}.params": torch.stack(params),
    }
    for k in buf_names:
        t[f"{name}.state.{k}"] = state[k]
        t[f"{name}.state{RESUME_AT}.{k}"] = state2[k]
    return t, ",".join(buf_names)


def steps_fixture():
    # The same initial parameters and gradient sequence for every config.
    gen = torch.Generator().manual_seed(1234)
    p0 = round32(torch.randn(N, generator=gen, dtype=torch.float64))
    grads = round32(torch.randn(STEPS, N, generator=gen, dtype=torch.float64))
    grads[:, 0] = 0.0  # one parameter that never gets a gradient
    p0[1] = 0.0        # and one that starts at zero
    tensors, meta = {}, {"configs": ",".join(CONFIGS), "steps": STEPS, "resume_at": RESUME_AT,
                         "hp": ",".join(HP)}
    for name in CONFIGS:
        t, bufs = run_config(name, p0, grads)
        tensors.update(t)
        meta[f"{name}.buffers"] = bufs
    tensors.update({"p0": p0, "grads": grads})
    st.save(os.path.join(OUT, "optim_steps.safetensors"), tensors, meta)


def clip_fixture():
    gen = torch.Generator().manual_seed(99)
    sizes = [10, 20, 7]  # three parameter tensors, clipped together
    g = round32(torch.randn(sum(sizes), generator=gen, dtype=torch.float64) * 0.7)
    # (grads, max_norm): clipped; left alone; tiny grads, where the +1e-6 in
    # max_norm / (norm + 1e-6) changes the result by ~1e-3.
    cases = [(g, f32(1.0)), (g, f32(100.0)), (g * 2.0**-12, f32(1e-4))]
    grads, max_norms, clipped, norms = [], [], [], []
    for gc, mn in cases:
        ps = [torch.zeros(n, dtype=torch.float64, requires_grad=True) for n in sizes]
        for p, chunk in zip(ps, torch.split(gc, sizes)):
            p.grad = chunk.clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_(ps, mn)))
        clipped.append(torch.cat([p.grad for p in ps]))
        grads.append(gc)
        max_norms.append(mn)
    clip_value = f32(0.5)
    p = torch.zeros(sum(sizes), dtype=torch.float64, requires_grad=True)
    p.grad = g.clone()
    torch.nn.utils.clip_grad_value_([p], clip_value)
    st.save(os.path.join(OUT, "optim_clip.safetensors"), {
        "grads": torch.stack(grads), "max_norm": np.array(max_norms, dtype=np.float32),
        "norm": np.array(norms, dtype=np.float32), "clipped": torch.stack(clipped),
        "clip_value": np.array([clip_value], dtype=np.float32), "clipped_value": p.grad})


def plateau_fixture():
    # Metric sequences with plateaus, enough bad stretches to reach min_lr, and
    # changes that tell the relative threshold (1e-4 * best) from an absolute
    # one (1e-4): at 2.0 an improvement of 1.5e-4 is too small (2.0 -> 1.99985),
    # at 0.3 one of 4e-5 is enough (0.3 -> 0.29996).
    seqs = {
        "min": [2.0, 1.99985, 1.99984, 2.5, 1.5, 0.9, 0.95, 0.91, 0.92, 0.3, 0.29996, 0.29993, 0.29990,
                0.3, 0.3, 0.3, 0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.2, 0.2],
        "max": [0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.30004, 0.30008, 0.29, 0.31, 2.0, 2.00015, 2.00014, 2.0,
                0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.5],
    }
    base_lr, factor, patience, threshold, min_lr = 1.0, f32(0.5), 2, f32(1e-4), f32(0.1)
    tensors = {}
    for mode, seq in seqs.items():
        seq = [f32(x) for x in seq]
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=base_lr)
        sch = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=factor, patience=patience,
                                                         threshold=threshold, min_lr=min_lr)
        lrs = []
        for m in seq:
            sch.step(m)
            lrs.append(opt.param_groups[0]["lr"])
        tensors[f"{mode}.metrics"] = np.array(seq, dtype=np.float32)
        tensors[f"{mode}.lrs"] = np.array(lrs, dtype=np.float32)
        tensors[f"{mode}.hp"] = np.array([base_lr, factor, patience, threshold, min_lr,
                                          1.0 if mode == "max" else 0.0], dtype=np.float32)
    st.save(os.path.join(OUT, "optim_plateau.safetensors"), tensors,
            {"hp": "base_lr,factor,patience,threshold,min_lr,mode_max"})


def defaults_fixture():
    p = [torch.zeros(1, requires_grad=True)]
    tensors = {}
    for tname, (_, cls) in TYPES.items():
        if tname == "sgd":  # SGD's lr is required: no default, written as -1
            vals = hp_values(dict(cls(p, lr=0.5).defaults, lr=-1.0))
        else:
            vals = hp_values(cls(p).defaults)
        tensors[tname] = np.array(vals, dtype=np.float32)
    opt = torch.optim.SGD(p, lr=1.0)
    sch = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    tensors["plateau"] = np.array([sch.factor, sch.patience, sch.threshold, sch.min_lrs[0], sch.cooldown,
                                   1.0 if sch.mode == "max" else 0.0], dtype=np.float32)
    st.save(os.path.join(OUT, "optim_defaults.safetensors"), tensors,
            {"layout": ",".join(HP[1:]), "plateau": "factor,patience,threshold,min_lr,cooldown,mode_max",
             "torch": torch.__version__.split("+")[0]})


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    steps_fixture()
    clip_fixture()
    plateau_fixture()
    defaults_fixture()
    print("wrote", OUT + "/optim_{steps,clip,plateau,defaults}.safetensors")
