"""One experiment of the demo data set, generated on demand from its key.

Nothing here is stored up front: a project knows how many experiments it has, each experiment's
key is a hash of (project, index), and the experiment's whole content (metrics over hundreds of
steps, parameters, assets with real bytes, ...) is drawn from a random generator seeded by that
key. That is what lets `--scale` reach tens of thousands of experiments without a slow start.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import blobs

HOUR = 3_600_000


def digest(*parts: object, length: int = 32) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:length]


@dataclass(frozen=True)
class MetricPoint:
    step: int
    epoch: int
    value: float  # NaN when the text logged is not a number
    timestamp: int
    offset: int
    text: str | None = None  # the value as logged, when logged as text ("NaN", "Infinity")


@dataclass(frozen=True)
class Series:
    name: str
    context: str | None
    points: tuple[MetricPoint, ...]


@dataclass(frozen=True)
class Asset:
    asset_id: str
    file_name: str
    type: str
    step: int | None
    created_at: int
    dir: str | None
    metadata: str | None
    make: Callable[[], bytes] = field(compare=False, repr=False)
    context: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def mime(self) -> str:
        ext = self.file_name.rsplit(".", 1)[-1]
        return {
            "png": "image/png", "wav": "audio/wav", "json": "application/json",
            "py": "text/x-python", "txt": "text/plain", "zip": "application/zip",
            "mp4": "video/mp4",
        }.get(ext, "application/octet-stream")


@dataclass(frozen=True)
class Model:
    model_id: str
    name: str
    assets: tuple[Asset, ...]


@dataclass(frozen=True)
class Experiment:
    key: str
    index: int
    project_id: str
    workspace: str
    project_name: str
    name: str
    owner: str
    start: int
    end: int
    optimization_id: str | None
    archived: bool
    params: dict[str, str]
    others: dict[str, str]
    tags: tuple[str, ...]
    metrics: dict[str, Series]
    system: dict[str, Any]
    git: dict[str, Any]
    patch: str | None
    assets: tuple[Asset, ...]
    models: tuple[Model, ...]
    cloud: dict[str, Any]
    html: str
    code: str
    output: str
    graph: str
    artifact_versions: tuple[str, ...]

    @property
    def duration(self) -> int:
        return self.end - self.start


ARCHITECTURES = {
    "vision": ["resnet18", "resnet50", "efficientnet-b0", "vit-small", "convnext-tiny"],
    "nlp": ["bert-base", "distilbert", "roberta-base", "t5-small"],
    "misc": ["mlp", "cnn", "lstm"],
}
TAG_POOL = ["baseline", "augmented", "sweep", "fp16", "best", "debug", "ablation", "ddp"]
PACKAGES = ["numpy==2.1.3", "torch==2.5.1", "comet_ml==3.58.8", "pandas==2.2.3",
            "scikit-learn==1.6.0", "transformers==4.47.0", "pillow==11.0.0"]


def _metric_series(rng: random.Random, start: int, end: int, steps: int) -> dict[str, Series]:
    """Loss falling and accuracy rising with noise; validation every 10 steps."""
    rate = rng.uniform(3.0, 6.0)
    floor = rng.uniform(0.02, 0.3)
    ceiling = rng.uniform(0.80, 0.985)
    step_ms = (end - start) // (steps + 1)
    per_epoch = max(1, steps // rng.choice([5, 10, 20]))
    lr0 = 10 ** rng.uniform(-4, -2)
    values: dict[str, list[tuple[int, float]]] = {n: [] for n in (
        "loss", "accuracy", "learning_rate", "val_loss", "val_accuracy")}
    for step in range(1, steps + 1):
        t = step / steps
        decay = math.exp(-rate * t)
        values["loss"].append((step, floor + 2.2 * decay + rng.gauss(0, 0.03)))
        values["accuracy"].append(
            (step, min(1.0, max(0.0, ceiling - (ceiling - 0.1) * decay + rng.gauss(0, 0.01)))))
        values["learning_rate"].append((step, lr0 * 0.5 * (1 + math.cos(math.pi * t))))
        if step % 10 == 0:
            values["val_loss"].append((step, floor * 1.2 + 2.3 * decay + rng.gauss(0, 0.05)))
            values["val_accuracy"].append(
                (step, min(1.0, max(0.0, ceiling - 0.03 - (ceiling - 0.1) * decay
                                    + rng.gauss(0, 0.02)))))
    out = {}
    offset = 0
    for name, pts in values.items():
        context = "validate" if name.startswith("val_") else None
        points = []
        for step, value in pts:
            offset += 1
            points.append(MetricPoint(step, step // per_epoch, round(value, 6),
                                      start + step * step_ms, offset))
        out[name] = Series(name, context, tuple(points))
    return out


def _assets(rng: random.Random, key: str, start: int, steps: int) -> list[Asset]:
    def asset(j: int, name: str, kind: str, make: Callable[[], bytes], step: int | None = None,
              directory: str | None = None, metadata: str | None = None) -> Asset:
        return Asset(digest(key, "asset", j), name, kind, step, start + 60_000 * (j + 1),
                     directory, metadata, make)

    out = []
    for j, step in enumerate(range(steps // 4, steps + 1, steps // 4)):
        seed = f"{key}/img/{j}"
        out.append(asset(j, f"sample-step-{step}.png", "image", functools.partial(blobs.png, seed),
                         step=step, metadata='{"width": 32, "height": 32}'))
    n = len(out)
    cm = {"version": 1, "title": "Confusion Matrix", "labels": ["cat", "dog", "bird"],
          "matrix": [[rng.randrange(50, 100), rng.randrange(10), rng.randrange(10)]
                     for _ in range(3)]}
    hist = {"step": steps, "histograms": [{"step": s, "counts": [rng.randrange(50)
                                                                 for _ in range(10)]}
                                          for s in range(0, steps, max(1, steps // 5))]}
    out += [
        asset(n, "confusion-matrix.json", "confusion-matrix", lambda: blobs.json_bytes(cm),
              step=steps),
        asset(n + 1, "weights-histogram.json", "histogram3d", lambda: blobs.json_bytes(hist)),
        asset(n + 2, "train.py", "source_code",
              lambda: f"# training script for {key}\nprint('training')\n".encode()),
        asset(n + 3, "results.json", "unknown",
              lambda: blobs.json_bytes({"experiment": key, "steps": steps})),
        asset(n + 6, "activations-combined.json", "histogram_combined_3d",
              lambda: blobs.json_bytes({"combined": True, **hist})),
        asset(n + 7, "predictions.zip", "unknown", lambda: blobs.zip_of(
            {"predictions.csv": f"id,label\n1,cat\n2,dog\n# {key}\n".encode()})),
    ]
    if rng.random() < 0.5:
        out.append(asset(n + 4, "prediction.wav", "audio", functools.partial(blobs.wav, key)))
    if rng.random() < 0.25:
        video = functools.partial(blobs.weights, key, 2048)
        out.append(asset(n + 5, "rollout.mp4", "video", video))
    return out


def _models(key: str, start: int, index: int) -> list[Model]:
    if index % 3:
        return []
    model_id = digest(key, "model")
    files = {
        "model.pt": lambda: blobs.weights(key, 64 * 1024),
        "config.json": lambda: blobs.json_bytes({"experiment": key, "layers": 4}),
    }
    assets = tuple(
        Asset(digest(key, "model-asset", name), name, "model-element", None,
              start + HOUR, "model-data/classifier", None, make)
        for name, make in files.items())
    return [Model(model_id, "classifier", assets)]


@dataclass(frozen=True)
class Header:
    """What the experiment list shows: cheap to draw, without the metrics."""

    key: str
    index: int
    name: str
    arch: str
    start: int
    end: int
    optimization_id: str | None
    running: bool = False  # the newest of a project runs (see `World.current`)

    @property
    def archived(self) -> bool:
        return is_archived(self.index)


def is_archived(index: int) -> bool:
    return index % 17 == 16


def header(key: str, index: int, project: Any) -> Header:
    rng = random.Random(f"{key}/header")
    start = project.created_at + index * 3 * HOUR + rng.randrange(HOUR)
    end = start + rng.randrange(HOUR // 3, 6 * HOUR)
    arch = rng.choice(ARCHITECTURES[project.family])
    optimization = digest(project.project_id, "opt", index // 20) if project.optimizer else None
    return Header(key, index, f"{arch}-{index:04d}", arch, start, end, optimization)


def generate(head: Header, project: Any, owner: str) -> Experiment:
    """Build the whole experiment from its seed."""
    key, index, arch, start = head.key, head.index, head.arch, head.start
    rng = random.Random(key)
    steps = rng.randrange(120, 601)
    metrics = _metric_series(rng, start, head.end, steps)
    params = {
        "learning_rate": f"{10 ** rng.uniform(-4, -2):.6f}",
        "batch_size": str(rng.choice([16, 32, 64, 128])),
        "optimizer": rng.choice(["adam", "sgd", "adamw"]),
        "epochs": str(rng.choice([5, 10, 20])),
        "model": arch,
        "dropout": f"{rng.uniform(0.0, 0.5):.2f}",
    }
    host = f"gpu-node-{rng.randrange(1, 9):02d}"
    gpus = [{"gpuIndex": g, "name": "NVIDIA A100-SXM4-40GB", "powerLimit": 400000,
             "totalMemory": 42_949_672_960, "uuid": f"GPU-{digest(key, 'gpu', g, length=24)}"}
            for g in range(rng.choice([0, 1, 2, 4]))]
    system = {
        "command": ["train.py", "--model", arch, "--epochs", params["epochs"]],
        "executable": "/usr/bin/python3", "experimentKey": key,
        "gpuStaticInfoList": gpus, "hostname": host,
        "installedPackages": PACKAGES, "ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
        "logAdditionalSystemInfoList": [{"key": "cuda", "value": "12.4"}],
        "maxTotalMemory": float(rng.randrange(8, 64) * 2**30),
        "networkInterfaceIps": ["127.0.0.1", f"10.0.0.{rng.randrange(2, 250)}"],
        "os": "Linux-6.1.0-28-amd64-x86_64-with-glibc2.36", "osPackages": ["libc6", "openssl"],
        "osType": "Linux", "pid": rng.randrange(1000, 60000), "pythonVersion": "3.11.7",
        "pythonVersionVerbose": "3.11.7 (main, Dec 2024) [GCC 12.2.0]",
        "systemMetricNames": ["sys.cpu.percent.avg", "sys.ram.used"]
        + [f"sys.gpu.{g}.used_memory" for g in range(len(gpus))],
        "user": owner,
    }
    branch = rng.choice(["main", "main", "feature/augment", "exp/lr-sweep"])
    git = {"branch": branch, "origin": f"git@github.com:{project.workspace}/{project.name}.git",
           "parent": digest(key, "parent", length=40), "root": f"/home/{owner}/{project.name}",
           "user": owner}
    patch = None if index % 4 == 0 else (
        f"diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n"
        f"@@ -1,3 +1,3 @@\n-LR = 0.1\n+LR = {params['learning_rate']}\n")
    cloud: dict[str, Any] = {"experimentKey": None, "metadata": None, "provider": None}
    if index % 5 == 1:
        cloud = {"experimentKey": key, "provider": "aws",
                 "metadata": {"instanceType": "p4d.24xlarge", "region": "us-east-1"}}
    tags = tuple(sorted(rng.sample(TAG_POOL, rng.randrange(0, 4))))
    loss = metrics["loss"].points
    output_lines = [f"epoch {e}: loss={loss[min(len(loss) - 1, e * 10)].value:.4f}"
                    for e in range(int(params["epochs"]))]
    return Experiment(
        key=key, index=index, project_id=project.project_id, workspace=project.workspace,
        project_name=project.name, name=head.name, owner=owner, start=start, end=head.end,
        optimization_id=head.optimization_id, archived=head.archived, params=params,
        others={"dataset": rng.choice(["imagenet-1k", "cifar-10", "sst-2", "wmt-14"]),
                "Name": head.name, "trainer": host},
        tags=tags, metrics=metrics, system=system, git=git, patch=patch,
        assets=tuple(_assets(rng, key, start, steps)), models=tuple(_models(key, start, index)),
        cloud=cloud, html=f"<h1>{head.name}</h1><p>Notes for run {index}</p>",
        code=f"import comet_ml\nexperiment = comet_ml.start(project_name={project.name!r})\n",
        output="\n".join(output_lines) + "\n",
        graph=f"{arch}(\n  (encoder): Sequential(4 layers)\n  (head): Linear(512, 10)\n)",
        artifact_versions=("1.0.0", "1.1.0") if index % 5 == 0 else (),
    )
