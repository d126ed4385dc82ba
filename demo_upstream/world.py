"""The demo's seeded data set: users and their keys, workspaces, projects, registry, panels.

Deterministic: the same `scale` always gives the same keys, ids and values. Experiments are
counted here and generated on demand (see `experiments.py`); everything else is small and built
at start.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass, field

from . import blobs
from .experiments import (
    Experiment,
    Header,
    MetricPoint,
    Series,
    digest,
    generate,
    header,
    is_archived,
)

DAY = 86_400_000
EPOCH = 1_735_689_600_000  # 2025-01-01T00:00:00Z


@dataclass(frozen=True)
class User:
    name: str
    api_key: str
    workspaces: tuple[str, ...]

    @property
    def default_workspace(self) -> str:
        return self.workspaces[0]


@dataclass(frozen=True)
class Project:
    project_id: str
    workspace: str
    name: str
    owner: str
    description: str
    is_public: bool
    size: int  # experiments, archived ones included
    created_at: int
    family: str
    optimizer: bool
    notes: str
    share_codes: tuple[str, ...]

    @property
    def last_updated(self) -> int:
        return self.created_at + self.size * 3 * 3_600_000 + DAY

    @property
    def active_count(self) -> int:
        return sum(1 for i in range(self.size) if not is_archived(i))


@dataclass(frozen=True)
class RegistryVersion:
    item_id: str
    version: str
    stages: tuple[str, ...]
    comment: str
    owner: str
    created_at: int
    experiment_key: str
    experiment_model_id: str
    experiment_model_name: str


@dataclass(frozen=True)
class RegistryModel:
    model_id: str
    workspace: str
    name: str
    description: str
    is_public: bool
    owner: str
    created_at: int
    notes: str
    versions: tuple[RegistryVersion, ...]
    webhook_urls: tuple[dict[str, object], ...]

    @property
    def last_updated(self) -> int:
        return max([self.created_at] + [v.created_at for v in self.versions])


@dataclass(frozen=True)
class Panel:
    template_id: str
    workspace: str
    name: str
    owner: str
    scope: str
    created_at: int
    revision_id: int
    code: dict[str, object]


@dataclass(frozen=True)
class Dashboard:
    template_id: str
    workspace: str
    project_id: str
    project_name: str
    name: str
    owner: str
    panel_ids: tuple[str, ...] = ()
    pinned: tuple[str, ...] = ()


# (workspace, project, experiments at scale 1, family, optimizer, public)
PROJECT_SEEDS = [
    ("vision-lab", "image-classifier", 120, "vision", True, False),
    ("vision-lab", "object-detection", 40, "vision", False, True),
    ("alice", "sandbox", 12, "misc", False, False),
    ("nlp-research", "sentiment-bert", 60, "nlp", True, False),
    ("nlp-research", "translation", 25, "nlp", False, False),
    ("bob", "scratch", 5, "misc", False, False),
    ("carol", "empty-project", 0, "misc", False, False),
]
USERS = [
    User("alice", "demoAliceKey7Hq2Zp9Lm4Xw1", ("alice", "vision-lab")),
    User("bob", "demoBobKey3Vn8Rt6Yc2Kj5Ds", ("bob", "nlp-research")),
    User("carol", "demoCarolKey5Fg1Hx7Qb4Mz", ("carol",)),
]


@dataclass(eq=False)
class World:
    """The whole data set, with the lookups the REST routes need."""

    scale: int = 1
    users: dict[str, User] = field(default_factory=dict)  # by api key
    projects: dict[str, Project] = field(default_factory=dict)  # by id
    experiment_index: dict[str, tuple[str, int]] = field(default_factory=dict)
    registry: dict[tuple[str, str], RegistryModel] = field(default_factory=dict)
    panels: dict[str, Panel] = field(default_factory=dict)
    dashboards: dict[str, Dashboard] = field(default_factory=dict)
    # Values logged while the demo runs (a running experiment), on top of the seeded ones.
    live: dict[tuple[str, str], list[MetricPoint]] = field(default_factory=dict)
    # States set through the admin knob (running, end time), over the seeded ones.
    states: dict[str, tuple[bool, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.users = {u.api_key: u for u in USERS}
        owners = {ws: u.name for u in USERS for ws in u.workspaces}
        for n, (ws, name, size, family, optimizer, public) in enumerate(PROJECT_SEEDS):
            pid = digest(ws, name)
            self.projects[pid] = Project(
                pid, ws, name, owners[ws], f"{name.replace('-', ' ').title()} experiments",
                public, size * self.scale, EPOCH + n * 7 * DAY, family, optimizer,
                f"# {name}\n\nRuns for the {name} task. Keep the best model in the registry.",
                (digest(pid, "share", length=14),) if n % 2 == 0 else ())
            for i in range(size * self.scale):
                self.experiment_index[digest(pid, i)] = (pid, i)
        # Per-instance caches: generating an experiment costs a few milliseconds.
        self.header = functools.lru_cache(maxsize=200_000)(self._header)
        self.experiment = functools.lru_cache(maxsize=2048)(self._experiment)
        self._build_registry()
        self._build_panels()

    # --- lookups -------------------------------------------------------------------------
    def user(self, api_key: str | None) -> User | None:
        return self.users.get(api_key or "")

    def project_by_name(self, workspace: str, name: str) -> Project | None:
        return next((p for p in self.projects.values()
                     if p.workspace == workspace and p.name == name), None)

    def projects_in(self, workspace: str) -> list[Project]:
        return [p for p in self.projects.values() if p.workspace == workspace]

    def headers(self, project: Project) -> list[Header]:
        return [self.current(self.header(digest(project.project_id, i)))
                for i in range(project.size)]

    def current(self, head: Header) -> Header:
        """The header as the experiment stands now: the state a knob set, if any."""
        found = self.states.get(head.key)
        if found is None:
            return head
        return dataclasses.replace(head, running=found[0], end=found[1])

    def set_state(self, key: str, running: bool, end: int | None = None) -> Header:
        """Resume an experiment (running again), end it, or move its end time."""
        head = self.current(self.header(key))
        self.states[key] = (running, head.end if end is None else end)
        return self.current(head)

    def _header(self, key: str) -> Header:
        pid, index = self.experiment_index[key]
        project = self.projects[pid]
        head = header(key, index, project)
        # The newest experiment of each project is the one still running (the live ticker
        # logs to it when the demo runs with one).
        return dataclasses.replace(head, running=True) if index == project.size - 1 else head

    def _experiment(self, key: str) -> Experiment | None:
        if key not in self.experiment_index:
            return None
        pid, _ = self.experiment_index[key]
        project = self.projects[pid]
        return generate(self.header(key), project, project.owner)

    def metrics(self, e: Experiment) -> dict[str, Series]:
        """The experiment's metric series, with the values logged live appended."""
        if not any(k == e.key for k, _ in self.live):
            return e.metrics
        out = dict(e.metrics)
        for (key, name), points in self.live.items():
            if key == e.key and points:
                base = out.get(name)
                out[name] = Series(name, base.context if base else None,
                                   (base.points if base else ()) + tuple(points))
        return out

    def log_metric(self, key: str, name: str, values: list[float | str]) -> list[MetricPoint]:
        """Log values after the last step of `name`, one step each, timed now. A value may be
        text, as Comet takes it from a run that diverged ("NaN", "Infinity") or any word."""
        e = self.experiment(key)
        assert e is not None
        series = self.metrics(e).get(name)
        last = series.points[-1] if series and series.points else None
        step, offset = (last.step, last.offset) if last else (0, 0)
        now = int(time.time() * 1000)
        added = [MetricPoint(step + i + 1, last.epoch if last else 0, _number(v), now,
                             offset + i + 1, text=v if isinstance(v, str) else None)
                 for i, v in enumerate(values)]
        self.live.setdefault((key, name), []).extend(added)
        return added

    def workspace_of_experiment(self, key: str) -> str | None:
        found = self.experiment_index.get(key)
        return self.projects[found[0]].workspace if found else None

    def optimization_members(self, optimization_id: str) -> list[Header]:
        for project in self.projects.values():
            if not project.optimizer:
                continue
            for group in range((project.size + 19) // 20):
                if digest(project.project_id, "opt", group) == optimization_id:
                    return [self.header(digest(project.project_id, i))
                            for i in range(group * 20, min(project.size, group * 20 + 20))]
        return []

    # --- construction --------------------------------------------------------------------
    def _build_registry(self) -> None:
        specs = [
            ("vision-lab", "image-classifier", "resnet-classifier", ("2.1.0", "2.0.0", "1.0.0")),
            ("vision-lab", "object-detection", "yolo-detector", ("0.2.0", "0.1.0")),
            ("nlp-research", "sentiment-bert", "sentiment-model", ("1.2.0", "1.1.0", "1.0.0")),
        ]
        stage_sets = [("production",), ("staging",), ()]
        for n, (ws, project_name, model_name, versions) in enumerate(specs):
            project = self.project_by_name(ws, project_name)
            assert project is not None
            created = project.created_at + 2 * DAY
            model_experiments = [i for i in range(project.size) if i % 3 == 0]
            items = []
            for v, version in enumerate(versions):
                index = model_experiments[v * 3 % len(model_experiments)]
                key = digest(project.project_id, index)
                items.append(RegistryVersion(
                    digest(ws, model_name, version), version, stage_sets[min(v, 2)],
                    f"{model_name} {version}: trained by experiment {index}", project.owner,
                    created + (len(versions) - v) * DAY, key, digest(key, "model"), "classifier"))
            hooks: tuple[dict[str, object], ...] = ({"url": f"https://hooks.example.com/{ws}/{model_name}",
                      "header": {"Authorization": "demo-webhook-token"}},) if n != 1 else ()
            self.registry[(ws, model_name)] = RegistryModel(
                digest(ws, "registry", model_name), ws, model_name,
                f"The {model_name} model promoted from {project_name}", n == 1, project.owner,
                created, f"## {model_name}\n\nPromotion checklist: accuracy > 0.9 on the holdout.",
                tuple(items), hooks)

    def _build_panels(self) -> None:
        for n, ws in enumerate(["alice", "vision-lab", "nlp-research", "bob"]):
            owner = next(u.name for u in USERS if ws in u.workspaces)
            for kind in ("Loss Curves", "Confusion Explorer"):
                tid = digest(ws, "panel", kind, length=25)
                self.panels[tid] = Panel(
                    tid, ws, kind, owner, "PUBLIC" if n % 2 else "PRIVATE",
                    EPOCH + n * DAY, EPOCH + (n + 1) * DAY,
                    {"code": f"// {kind}\nconsole.log('panel');", "css": "/** CSS **/",
                     "defaultConfig": '""', "description": f"{kind} for {ws}",
                     "html": '<div id="chart-mount"></div>',
                     "internalResources": [{"enabled": True, "name": "Comet SDK",
                                            "version": "latest"}],
                     "pyCode": "## Python Code", "pyConfig": "", "type": "js",
                     "userResources": []})
        for project in self.projects.values():
            for view in ("Training overview", "Hyperparameter sweep")[: 1 + project.optimizer]:
                tid = digest(project.project_id, "dashboard", view, length=25)
                overview = view == "Training overview"
                panels = tuple(p.template_id for p in self.panels.values()
                               if p.workspace == project.workspace) if overview else ()
                pinned = tuple(digest(project.project_id, i)
                               for i in range(min(2, project.size))) if overview else ()
                self.dashboards[tid] = Dashboard(tid, project.workspace, project.project_id,
                                                 project.name, view, project.owner, panels,
                                                 pinned)

    def panel_zip(self, panel: Panel) -> bytes:
        return blobs.zip_of({"panel.json": blobs.json_bytes(panel.code)})


def _number(value: float | str) -> float:
    """A logged value as a number: NaN for text that is none."""
    try:
        return float(value)
    except ValueError:
        return math.nan
