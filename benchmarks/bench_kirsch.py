"""Cost of Kirsch edge fusion in a CNN training step on CPU.

Times one SGD step (forward + backward, batch 48) of a small FER network with and
without ``kirsch_fuse`` after each convolution layer, alternating the two so that
other load on the machine hits both alike, and prints
``overhead = median(fused) / median(plain) - 1``.

    python benchmarks/bench_kirsch.py --sizes 48 96 --steps 20
    python benchmarks/bench_kirsch.py --kernels      # also time the kernels per layer

Other processes on the cores inflate both timings and the spread; the load average is
printed with the results.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn

from edgefer.models.layers import KirschFusion, kirsch_fuse


def make_net(size: int, fuse: bool) -> nn.Sequential:
    """The benchmark CNN, with or without ``KirschFusion`` after each conv + ReLU.

    conv5(1->32) relu [fuse] conv5(32->64) relu [fuse] pool2 conv5(64->128) relu [fuse]
    pool2 flatten linear(300) relu linear(7); no padding.
    """

    def edge() -> nn.Module:
        return KirschFusion(1.0) if fuse else nn.Identity()

    side = ((size - 4 - 4) // 2 - 4) // 2
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), nn.ReLU(), edge(),
        nn.Conv2d(32, 64, 5), nn.ReLU(), edge(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 5), nn.ReLU(), edge(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128 * side * side, 300), nn.ReLU(), nn.Linear(300, 7),
    )


def make_step(net: nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> float:
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    return step


def bench(
    size: int, batch: int, steps: int, warmup: int, channels_last: bool
) -> tuple[float, float]:
    """Median seconds of a plain and of a fused training step, measured alternately."""
    torch.manual_seed(0)
    x = torch.randn(batch, 1, size, size)
    y = torch.randint(0, 7, (batch,))
    nets = [make_net(size, fuse) for fuse in (False, True)]
    nets[1].load_state_dict(nets[0].state_dict())
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
        nets = [n.to(memory_format=torch.channels_last) for n in nets]
    plain, fused = (make_step(n, x, y) for n in nets)
    for _ in range(warmup):
        plain()
        fused()
    tp, tf = [], []
    for i in range(steps):
        # alternate which goes first so that drifts in load cancel
        if i % 2:
            tp.append(plain())
            tf.append(fused())
        else:
            tf.append(fused())
            tp.append(plain())
    return statistics.median(tp), statistics.median(tf)


def feature_shapes(size: int, batch: int) -> list[tuple[int, int, int, int]]:
    """Shapes (B, C, H, W) of the three fused feature maps of ``make_net(size)``."""
    a = size - 4
    b = a - 4
    c = b // 2 - 4
    return [(batch, 32, a, a), (batch, 64, b, b), (batch, 128, c, c)]


def bench_kernels(size: int, batch: int, repeats: int = 10) -> None:
    """Median forward and backward time of kirsch_fuse on each fused layer's maps."""
    for shape in feature_shapes(size, batch):
        x = torch.rand(shape, requires_grad=True)
        g = torch.randn(shape)
        fwd, bwd = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            y = kirsch_fuse(x)
            t1 = time.perf_counter()
            torch.autograd.grad(y, x, g)
            fwd.append(t1 - t0)
            bwd.append(time.perf_counter() - t1)
        n = x.numel()
        f, b = statistics.median(fwd), statistics.median(bwd)
        print(f"  {tuple(shape)}: forward {f * 1e3:.2f} ms ({f * 1e9 / n:.2f} ns/px), "
              f"backward {b * 1e3:.2f} ms ({b * 1e9 / n:.2f} ns/px)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 96])
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument(
        "--kernels", action="store_true", help="also time kirsch_fuse alone on each layer's maps"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from edgefer.cpu import keep_freed_memory
    kept = keep_freed_memory()  # as `edgefer train` and `edgefer bench` run
    print(f"malloc keeps freed memory: {kept}")
    t0 = time.perf_counter()
    KirschFusion()(torch.zeros(1, 1, 3, 3, requires_grad=True)).sum().backward()
    print(f"first call (numba compile or cache load): {time.perf_counter() - t0:.2f} s")
    for size in args.sizes:
        if args.kernels:
            print(f"{size}x{size} kirsch_fuse alone:")
            bench_kernels(size, args.batch)
        tp, tf = bench(size, args.batch, args.steps, args.warmup, args.channels_last)
        print(
            f"{size}x{size} batch {args.batch}, {args.threads} threads"
            f"{', channels_last' if args.channels_last else ''}, median of {args.steps} steps: "
            f"plain {tp * 1e3:.1f} ms, fused {tf * 1e3:.1f} ms, overhead {tf / tp - 1:+.1%} "
            f"(load average {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
