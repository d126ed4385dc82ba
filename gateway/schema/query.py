"""The root of every query."""

from __future__ import annotations

import asyncio

import strawberry

from ..context import Info
from ..errors import BadUserInput
from .experiment import Experiment
from .panel import Panel
from .project import Project
from .registry import RegistryModel
from .workspace import Account, Workspace

MAX_KEYS = 500


@strawberry.type(description="Read Comet: workspaces, projects, experiments, the model "
                             "registry and panels, in one request.")
class Query:
    @strawberry.field(description="The user whose API key made the request.")
    async def viewer(self, info: Info) -> Account | None:
        found = await info.context.loaders.account.get("")
        return None if found is None else Account(
            user_name=found.user_name, default_workspace_name=found.default_workspace_name)

    @strawberry.field(description="Every workspace the caller's key can read.")
    async def workspaces(self, info: Info) -> list[Workspace] | None:
        found = await info.context.loaders.workspaces.get("")
        return None if found is None else [Workspace(name=n) for n in found]

    @strawberry.field(description="One workspace, by name; null when the key cannot read it.")
    async def workspace(self, info: Info, name: str) -> Workspace | None:
        found = await info.context.loaders.workspaces.get("")
        return Workspace(name=name) if found and name in found else None

    @strawberry.field(description="One project: by `id`, or by `workspace` and `name`.")
    async def project(self, info: Info, id: strawberry.ID | None = None,
                      workspace: str | None = None, name: str | None = None) -> Project | None:
        loaders = info.context.loaders
        if id is not None:
            found = await loaders.project.get(str(id))
        elif workspace is not None and name is not None:
            found = await loaders.project_by_name.get((workspace, name))
        else:
            raise BadUserInput("project needs `id`, or `workspace` and `name`")
        return None if found is None else Project.of(found)

    @strawberry.field(description="One experiment, by key.")
    async def experiment(self, info: Info, key: strawberry.ID) -> Experiment | None:
        meta = await info.context.loaders.metadata.get(str(key))
        return None if meta is None else Experiment.of(meta)

    @strawberry.field(description="Several experiments: one entry per key, in order, null "
                                  "where missing.")
    async def experiments(self, info: Info, keys: list[strawberry.ID]) -> list[Experiment | None]:
        if len(keys) > MAX_KEYS:
            raise BadUserInput(f"at most {MAX_KEYS} keys")
        found = await asyncio.gather(*(info.context.loaders.metadata.get(str(k)) for k in keys))
        return [None if m is None else Experiment.of(m) for m in found]

    @strawberry.field(description="One registry model, by workspace and name.")
    async def registry_model(self, info: Info, workspace: str, name: str) -> RegistryModel | None:
        found = await info.context.loaders.registry_details.get((workspace, name))
        return None if found is None else RegistryModel.of(found, workspace)

    @strawberry.field(description="One code panel, by templateId.")
    async def panel(self, info: Info, template_id: strawberry.ID) -> Panel | None:
        found = await info.context.loaders.panel.get(str(template_id))
        return None if found is None else Panel.of_summary(found)
