"""The root of every query."""

from __future__ import annotations

import strawberry
from strawberry.types.nodes import SelectedField

from ..context import Info
from ..errors import BadUserInput
from ..loaders import OptimizerQuery, ProjectRef
from .experiment import Experiment
from .filters import ExperimentOrder, ExperimentOrderField, OrderDirection
from .optimizer import Optimization
from .panel import DashboardTemplate, Panel
from .project import Project, plan_listing
from .registry import RegistryModel
from .workspace import Account, Workspace

MAX_KEYS = 500


def prefetch_listings(info: Info, ref: ProjectRef) -> None:
    """Start the experiment lists the query asks of this project now, beside the project
    itself, rather than one round trip after it: their arguments alone say which call each
    will make (plan_listing). A guess that turns out wrong costs one unused call, no error."""
    for selected in info.selected_fields:
        for child in selected.selections:
            if not isinstance(child, SelectedField) or child.name != "experiments":
                continue
            args = child.arguments  # literals as the document spells them: ints are text
            try:
                order = args.get("orderBy")
                first = None if args.get("first") is None else int(args["first"])
                archived = args.get("archived") in (True, "true")
                plan = plan_listing(
                    ref, first, args.get("after"), archived,
                    args.get("where") is not None,
                    ExperimentOrder(field=ExperimentOrderField[order["field"]],
                                    direction=OrderDirection[order.get("direction", "ASC")])
                    if order else None, total=0)
            except (BadUserInput, KeyError, TypeError, ValueError):
                continue
            future = info.context.loaders.experiments.load(plan.key)
            # If the project turns out not to exist, nobody awaits this: retrieve its outcome.
            future.add_done_callback(lambda f: f.cancelled() or f.exception())


@strawberry.type(description="Read Comet: workspaces, projects, experiments, the model "
                             "registry and panels, in one request.")
class Query:
    @strawberry.field(description="The user whose API key made the request.")
    async def viewer(self, info: Info) -> Account | None:
        found = await info.context.loaders.account.load("")
        return None if found is None else Account(
            user_name=found.user_name, default_workspace_name=found.default_workspace_name)

    @strawberry.field(description="Every workspace the caller's key can read.")
    async def workspaces(self, info: Info) -> list[Workspace] | None:
        found = await info.context.loaders.workspaces.load("")
        return None if found is None else [Workspace(name=n) for n in found]

    @strawberry.field(description="One workspace, by name; null when the key cannot read it.")
    async def workspace(self, info: Info, name: str) -> Workspace | None:
        found = await info.context.loaders.workspaces.load("")
        return Workspace(name=name) if found and name in found else None

    @strawberry.field(description="One project: by `id`, or by `workspace` and `name`.")
    async def project(self, info: Info, id: strawberry.ID | None = None,
                      workspace: str | None = None, name: str | None = None) -> Project | None:
        loaders = info.context.loaders
        ref: ProjectRef
        if id is not None:
            ref = ProjectRef(project_id=str(id))
            prefetch_listings(info, ref)
            found = await loaders.project.load(str(id))
        elif workspace is not None and name is not None:
            ref = ProjectRef(workspace=workspace, name=name)
            prefetch_listings(info, ref)
            found = await loaders.project_by_name.load((workspace, name))
        else:
            raise BadUserInput("project needs `id`, or `workspace` and `name`")
        return None if found is None else Project.of(found, ref)

    @strawberry.field(description="One experiment, by key.")
    async def experiment(self, info: Info, key: strawberry.ID) -> Experiment | None:
        meta = await info.context.loaders.metadata.load(str(key))
        return None if meta is None else Experiment.of(meta)

    @strawberry.field(description="Several experiments: one entry per key, in order, null "
                                  "where missing.")
    async def experiments(self, info: Info, keys: list[strawberry.ID]) -> list[Experiment | None]:
        if len(keys) > MAX_KEYS:
            raise BadUserInput(f"at most {MAX_KEYS} keys")
        found = await info.context.loaders.metadata.load_many(str(k) for k in keys)
        return [None if m is None else Experiment.of(m) for m in found]

    @strawberry.field(description="One registry model, by workspace and name.")
    async def registry_model(self, info: Info, workspace: str, name: str) -> RegistryModel | None:
        found = await info.context.loaders.registry_details.load((workspace, name))
        return None if found is None else RegistryModel.of(found, workspace)

    @strawberry.field(description="One code panel, by templateId.")
    async def panel(self, info: Info, template_id: strawberry.ID) -> Panel | None:
        found = await info.context.loaders.panel.load(str(template_id))
        return None if found is None else Panel.of_summary(found)

    @strawberry.field(description="One dashboard template (a project's saved view), by "
                                  "templateId.")
    async def dashboard(self, info: Info, template_id: strawberry.ID) -> DashboardTemplate | None:
        found = await info.context.loaders.dashboard.load(str(template_id))
        return None if found is None else DashboardTemplate.of_full(found)

    @strawberry.field(description="One optimizer (hyperparameter search) run, by "
                                  "optimizationId; null when the key sees none of its "
                                  "experiments. Its best experiment is judged on `metricName` "
                                  "(Comet's default when omitted), lowest first unless "
                                  "`maximize`.")
    async def optimization(self, info: Info, id: strawberry.ID, metric_name: str | None = None,
                           maximize: bool | None = None) -> Optimization | None:
        # The lookup is the best-experiment call its fields read: one call in all.
        query = OptimizerQuery(str(id), metric_name, maximize)
        found = await info.context.loaders.optimizer.load(query)
        return None if found is None else Optimization(id=id, metric_name=metric_name,
                                                       maximize=maximize)
