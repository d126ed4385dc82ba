"""`python -m bench.downsampling`: what a chart's resolution costs the gateway, in process.

A dashboard's series (by default 100 experiments × 4 metrics × 15,000 points, Comet's full
series, decoded as the upstream client decodes them) shown at `points` by the gateway's views
(`gateway.schema.resolution.apply`: numpy, tsdownsample's LTTB in native code), against the
same choices made in plain Python, point by point (a tenth of the series, scaled up); and
smoothing, and a step range alone. Prints the median CPU time of a few rounds (the cells
interleaved), in ms for the whole dashboard and in ns a point.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence

from gateway.schema.resolution import Downsampling, SeriesView, apply
from gateway.upstream.models import ChartMetric


def dashboard(experiments: int, metrics: int, length: int) -> list[ChartMetric]:
    rng = random.Random(12)
    out = []
    for e in range(experiments):
        for m in range(metrics):
            rate, floor = rng.uniform(3, 6), rng.uniform(0.02, 0.3)
            values = tuple(round(floor + 2.2 * math.exp(-rate * i / length)
                                 + rng.gauss(0, 0.03), 6) for i in range(length))
            stamps = tuple(1_735_689_600_000 + 997 * i for i in range(length))
            out.append(ChartMetric(
                metric_name=f"m{m}", values=values, steps=tuple(range(1, length + 1)),
                timestamps=stamps, durations=(0,) + (997,) * (length - 1),
                epochs=tuple(i // 1000 for i in range(length))))
        del e
    return out


# --- the same choices in plain Python: the comparison ---------------------------------------
def lttb_python(x: Sequence[float], y: Sequence[float], n_out: int) -> list[int]:
    n = len(y)
    if n_out >= n:
        return list(range(n))
    every, a, out = (n - 2) / (n_out - 2), 0, [0]
    for i in range(n_out - 2):
        start, end = int(every * (i + 1)) + 1, min(int(every * (i + 2)) + 1, n)
        avg_y, avg_x = sum(y[start:end]) / (end - start), (x[start] + x[end - 1]) / 2
        ax, ay = x[a], y[a]
        best, chosen = -1.0, start
        for j in range(int(every * i) + 1, start):
            area = abs((ax - avg_x) * (y[j] - ay) - (ax - x[j]) * (avg_y - ay))
            if area > best:
                best, chosen = area, j
        out.append(chosen)
        a = chosen
    return [*out, n - 1]


def min_max_python(y: Sequence[float], buckets: int) -> list[int]:
    n, out = len(y), []
    for b in range(buckets):
        start, end = b * n // buckets, (b + 1) * n // buckets
        part = range(start, end)
        out += sorted({min(part, key=y.__getitem__), max(part, key=y.__getitem__)})
    return out


def ema_python(values: Sequence[float], weight: float) -> list[float]:
    last, out = 0.0, []
    for k, v in enumerate(values, 1):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight ** k))
    return out


def python_view(m: ChartMetric, points: int, method: str, smoothing: float | None) -> None:
    values = [float(v) for v in m.values]  # their values are all finite here
    steps = [float(s) for s in m.steps if s is not None]
    if method == "lttb":
        chosen = lttb_python(steps, values, points)
    else:
        chosen = [0, *(1 + p for p in min_max_python(values[1:-1], (points - 2) // 2)),
                  len(values) - 1]
    smoothed = ema_python(values, smoothing) if smoothing is not None else None
    for items in (m.steps, m.values, m.timestamps, m.durations, m.epochs, smoothed or ()):
        [items[p] for p in chosen] if items else None


def timed(cells: list[tuple[str, Callable[[], object]]], rounds: int) -> dict[str, float]:
    """Each cell's median CPU seconds (this process's: the machine may be shared), the cells
    interleaved round by round."""
    took: dict[str, list[float]] = {name: [] for name, _ in cells}
    for _ in range(rounds):
        for name, run in cells:
            started = time.process_time()
            run()
            took[name].append(time.process_time() - started)
    return {name: statistics.median(times) for name, times in took.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=100)
    parser.add_argument("--metrics", type=int, default=4)
    parser.add_argument("--length", type=int, default=15_000)
    parser.add_argument("--points", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    series = dashboard(args.experiments, args.metrics, args.length)
    total = len(series) * args.length
    print(f"{len(series)} series of {args.length:,} points ({total:,} points), shown at "
          f"{args.points} points; medians of {args.rounds} rounds, CPU time")
    apply(series[0], SeriesView(points=args.points))  # numpy and tsdownsample loaded
    cells: list[tuple[str, Callable[[], object]]] = [
        ("gateway, LTTB", lambda: [apply(m, SeriesView(points=args.points)) for m in series]),
        ("gateway, MIN_MAX", lambda: [apply(m, SeriesView(
            points=args.points, method=Downsampling.MIN_MAX)) for m in series]),
        ("gateway, LTTB + smoothing 0.9", lambda: [apply(m, SeriesView(
            points=args.points, smoothing=0.9)) for m in series]),
        ("gateway, a step range only (a tenth)", lambda: [apply(m, SeriesView(
            step_min=1, step_max=args.length // 10)) for m in series]),
    ]
    plain = max(1, len(series) // 10)  # plain Python is slow: a tenth, scaled up
    cells += [
        ("plain Python, LTTB", lambda: [python_view(m, args.points, "lttb", None)
                                        for m in series[:plain]]),
        ("plain Python, MIN_MAX", lambda: [python_view(m, args.points, "min_max", None)
                                           for m in series[:plain]]),
        ("plain Python, LTTB + smoothing 0.9", lambda: [python_view(
            m, args.points, "lttb", 0.9) for m in series[:plain]]),
    ]
    for name, median in timed(cells, args.rounds).items():
        took = median * (len(series) / plain if name.startswith("plain") else 1)
        print(f"  {name:40} {took * 1000:9.1f} ms  {took / total * 1e9:6.1f} ns a point")


if __name__ == "__main__":
    main()
