#!/usr/bin/python3
"""Generate the PyTorch fixtures that test/core/test_train.c checks src/core/train.c against.

Run with Debian's python3-torch:  /usr/bin/python3 test/train/make_grad_fixtures.py
Writes test/train/fixtures/*.txt (committed; the C test does not need torch).

Every fixture is a text file of named arrays, one per line:  name count v1 v2 ... vcount
Layouts are the trainer's: x (T, B, I), target (T, B, O), kind (T, B) with 0 = padding,
1 = a training target; h0, c0 (L, B, H); params in model order (per layer weight_ih,
weight_hh, bias_ih, bias_hh; then head.weight, head.bias).

grad_*.txt   one chunk: loss and the gradient of every parameter (torch autograd, float32),
             from a non-zero initial state, with padded (lane, step) cells.
grad_direct_l1_o13.txt  the same for series scaling's direct head: O = 13 outputs, kind
             (T, B, O) per target entry (entries past the training rows masked), L1 loss.
adam20.txt   20 mini-batch steps of stateful truncated BPTT: state carried across chunks
             and detached, some lanes reset to zero state before a chunk, masked MSE,
             clip_grad_norm_, torch.optim.Adam; the weights after every step's update.
"""
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")


class Net(torch.nn.Module):
    """nn.LSTM + nn.Linear head, the model of src/core/model.h."""

    def __init__(self, I, H, L, O):
        super().__init__()
        self.lstm = torch.nn.LSTM(I, H, L)
        self.head = torch.nn.Linear(H, O)

    def params(self):
        """Parameters in model.h order."""
        out = []
        for k in range(self.lstm.num_layers):
            for name in ("weight_ih_l%d", "weight_hh_l%d", "bias_ih_l%d", "bias_hh_l%d"):
                out.append(getattr(self.lstm, name % k))
        out += [self.head.weight, self.head.bias]
        return out

    def forward(self, x, h0, c0):
        hs, (h, c) = self.lstm(x, (h0, c0))
        return self.head(hs), h, c


def masked_mse(y, target, mask):
    """Mean squared error over the cells whose mask is 1 (every output)."""
    m = mask.unsqueeze(-1).expand_as(y)
    return ((y - target) ** 2 * m).sum() / m.sum()


def flat(ts):
    return torch.cat([t.detach().reshape(-1) for t in ts])


def write(path, arrays):
    with open(path, "w") as f:
        for name, value in arrays:
            if isinstance(value, torch.Tensor):
                vals = value.detach().double().reshape(-1).tolist()
            else:
                vals = list(value)
            f.write("%s %d %s\n" % (name, len(vals), " ".join("%.9g" % v for v in vals)))


def series_batch(g, T, B, I, O, phase):
    """Smooth multivariate signals (sines plus noise): realistic scaled inputs."""
    t = torch.arange(T, dtype=torch.float64).reshape(T, 1, 1) + phase
    freq = 0.15 + 0.1 * torch.rand(1, B, I, generator=g, dtype=torch.float64)
    x = torch.sin(freq * t) + 0.1 * torch.randn(T, B, I, generator=g, dtype=torch.float64)
    target = torch.sin(freq[..., :O] * (t + 1)) + 0.1 * torch.randn(T, B, O, generator=g,
                                                                    dtype=torch.float64)
    return x.float(), target.float()


def grad_fixture(name, I, H, L, O, B, T, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = Net(I, H, L, O)
    x, target = series_batch(g, T, B, I, O, 0.0)
    h0 = (0.5 * torch.randn(L, B, H, generator=g, dtype=torch.float64)).float()
    c0 = torch.randn(L, B, H, generator=g, dtype=torch.float64).float()
    kind = torch.ones(T, B)
    kind[T - 2:, 0] = 0  # lane 0's series ended two steps before the chunk's end
    if B > 2:
        kind[:, B - 1] = 0  # an idle lane
    y, _, _ = net(x, h0, c0)
    loss = masked_mse(y, target, kind)
    loss.backward()
    # the float64 network agrees with the float32 one: a well-conditioned case
    net64 = Net(I, H, L, O).double()
    net64.load_state_dict(net.state_dict())
    y64, _, _ = net64(x.double(), h0.double(), c0.double())
    loss64 = masked_mse(y64, target.double(), kind.double())
    assert abs(loss64.item() - loss.item()) <= 1e-5 * max(1.0, abs(loss64.item())), name
    write(os.path.join(OUT, name), [
        ("dims", [I, H, L, O, B, T]),
        ("params", flat(net.params())),
        ("x", x), ("target", target), ("kind", kind),
        ("h0", h0), ("c0", c0),
        ("loss", [loss.item()]),
        ("grads", flat([p.grad for p in net.params()])),
    ])


def direct_head_fixture(name, I, H, L, O, B, T, seed):
    """One chunk of the direct multi-step head with masked entries and the L1 loss (issue 9)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = Net(I, H, L, O)
    x = torch.randn(T, B, I, generator=g, dtype=torch.float64).clamp(-10, 10).float()
    target = (2.0 * torch.randn(T, B, O, generator=g, dtype=torch.float64)).float()
    h0 = (0.5 * torch.randn(L, B, H, generator=g, dtype=torch.float64)).float()
    c0 = torch.randn(L, B, H, generator=g, dtype=torch.float64).float()
    kind = torch.ones(T, B, O)
    for t in range(T):  # lane b's training rows end at step T - 1 - b: entries past it masked
        for b in range(B):
            for k in range(1, O + 1):
                if t + k > T - 1 - b + 2:
                    kind[t, b, k - 1] = 0
    kind[0, :, :] = 0  # the first row of a series has no target
    x[T - 1, B - 1, :] = 0  # a padded row
    y, _, _ = net(x, h0, c0)
    loss = ((y - target).abs() * kind).sum() / kind.sum()
    loss.backward()
    write(os.path.join(OUT, name), [
        ("dims", [I, H, L, O, B, T]),
        ("params", flat(net.params())),
        ("x", x), ("target", target), ("kind", kind),
        ("h0", h0), ("c0", c0),
        ("loss", [loss.item()]),
        ("grads", flat([p.grad for p in net.params()])),
    ])


def adam_fixture(name, I, H, L, O, B, T, steps, lr, clip, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = Net(I, H, L, O)
    arrays = [("dims", [I, H, L, O, B, T]), ("options", [steps, lr, clip]),
              ("params0", flat(net.params()))]
    opt = torch.optim.Adam(net.params(), lr=lr)
    h = torch.zeros(L, B, H)
    c = torch.zeros(L, B, H)
    clipped = 0
    for step in range(steps):
        x, target = series_batch(g, T, B, I, O, step * T)
        kind = torch.ones(T, B)
        reset = torch.zeros(B)
        if step % 7 == 3:  # lane 1 ends its series mid-chunk, then starts a new one
            kind[T // 2:, 1 % B] = 0
        if step % 7 == 4:
            reset[1 % B] = 1
        if step == 10:
            reset[0] = 1
        h = h * (1 - reset).reshape(1, B, 1)
        c = c * (1 - reset).reshape(1, B, 1)
        opt.zero_grad()
        y, h_new, c_new = net(x, h.detach(), c.detach())
        loss = masked_mse(y, target, kind)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(net.params(), clip)
        clipped += int(norm.item() > clip)
        opt.step()
        h, c = h_new.detach(), c_new.detach()
        arrays += [("x", x), ("target", target), ("kind", kind), ("reset", reset),
                   ("loss", [loss.item()]), ("norm", [norm.item()]),
                   ("params", flat(net.params()))]
    assert 0 < clipped < steps, "clip should act on some steps and not on others"
    write(os.path.join(OUT, name), arrays)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    grad_fixture("grad_l1_i1.txt", I=1, H=5, L=1, O=1, B=3, T=6, seed=1)
    grad_fixture("grad_l2_i3.txt", I=3, H=4, L=2, O=1, B=4, T=5, seed=2)
    grad_fixture("grad_l2_i2_h16.txt", I=2, H=16, L=2, O=1, B=5, T=9, seed=3)
    direct_head_fixture("grad_direct_l1_o13.txt", I=15, H=8, L=1, O=13, B=4, T=6, seed=5)
    adam_fixture("adam20.txt", I=2, H=8, L=2, O=1, B=3, T=7, steps=20, lr=0.01, clip=0.5,
                 seed=4)


if __name__ == "__main__":
    main()
