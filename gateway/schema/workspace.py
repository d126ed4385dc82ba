"""The account and its workspaces."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from ..context import Info
from .pagination import decode_cursor, edges, page_info, page_size

if TYPE_CHECKING:
    from .panel import DashboardTemplate, Panel
    from .project import Project, ProjectConnection
    from .project_page import ProjectPage, ProjectSort
    from .registry import RegistryModel


@strawberry.type(description="A Comet workspace: a team's (or a user's) projects and models.")
class Workspace:
    name: str = strawberry.field(description="The workspace's name.")

    @strawberry.field(description="The same as `name` (unique in Comet): a stable id for "
                                  "normalized client caches.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.name)

    @strawberry.field(description="Its projects, a page at a time; `search` keeps those whose "
                                  "name or description contains it (any case).")
    async def projects(self, info: Info, first: int | None = None, after: str | None = None,
                       search: str | None = None
                       ) -> Annotated[ProjectConnection, strawberry.lazy(".project")] | None:
        from .project import Project, ProjectConnection, ProjectEdge

        size, offset = page_size(first), decode_cursor(after)
        found = await info.context.loaders.projects.load(self.name)
        if found is None:
            return None
        chosen = list(found)
        if search:
            needle = search.lower()
            chosen = [p for p in chosen if needle in p.project_name.lower()
                      or needle in (p.project_description or "").lower()]
        page = [Project.of(p) for p in chosen[offset:offset + size]]
        return ProjectConnection(
            edges=[ProjectEdge(cursor=e.cursor, node=e.node) for e in edges(page, offset)],
            page_info=page_info(offset, len(page), len(chosen)), total_count=len(chosen))

    @strawberry.field(description="A page of its projects as Comet's project browser shows "
                                  "them (search, filters, sort; Comet's projects/page).")
    async def project_page(self, info: Info, offset: int = 0, count: int = 10,
                           search: str | None = None,
                           sort: Annotated[ProjectSort, strawberry.lazy(".project_page")]
                           | None = None,
                           descending: bool = True, owner: str | None = None,
                           public: bool | None = None, starter_project: bool | None = None
                           ) -> Annotated[ProjectPage, strawberry.lazy(".project_page")] | None:
        from .project_page import project_page

        return await project_page(info, self.name, offset, count, search, sort, descending,
                                  owner, public, starter_project)

    @strawberry.field(description="One project, by name.")
    async def project(self, info: Info, name: str
                      ) -> Annotated[Project, strawberry.lazy(".project")] | None:
        from .project import Project

        found = await info.context.loaders.project_by_name.load((self.name, name))
        return None if found is None else Project.of(found)

    @strawberry.field(description="Its registry models.")
    async def registry_models(self, info: Info
                              ) -> list[Annotated[RegistryModel,
                                                  strawberry.lazy(".registry")]] | None:
        from .registry import RegistryModel

        found = await info.context.loaders.registry_models.load(self.name)
        return None if found is None else [RegistryModel.of(m, self.name) for m in found]

    @strawberry.field(description="How many registry models it has.")
    async def registry_model_count(self, info: Info) -> int | None:
        return await info.context.loaders.registry_count.load(self.name)

    @strawberry.field(description="One registry model, by name.")
    async def registry_model(self, info: Info, name: str
                             ) -> Annotated[RegistryModel, strawberry.lazy(".registry")] | None:
        from .registry import RegistryModel

        found = await info.context.loaders.registry_details.load((self.name, name))
        return None if found is None else RegistryModel.of(found, self.name)

    @strawberry.field(description="Its code panels.")
    async def panels(self, info: Info) -> list[Annotated[Panel, strawberry.lazy(".panel")]] | None:
        from .panel import Panel

        found = await info.context.loaders.panels.load(self.name)
        return None if found is None else [Panel.of_summary(p) for p in found]

    @strawberry.field(description="Its dashboard templates, across projects.")
    async def dashboards(self, info: Info
                         ) -> list[Annotated[DashboardTemplate, strawberry.lazy(".panel")]] | None:
        from .panel import DashboardTemplate

        found = await info.context.loaders.dashboards.load((self.name, None))
        return None if found is None else [DashboardTemplate.of(t, self.name) for t in found]


@strawberry.type(description="The Comet user whose API key made the request.")
class Account:
    user_name: str = strawberry.field(description="The user's name.")
    default_workspace_name: strawberry.Private[str | None]

    @strawberry.field(description="The same as `userName`: a stable id for normalized client "
                                  "caches.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.user_name)

    @strawberry.field(description="The user's default workspace.")
    def default_workspace(self) -> Workspace | None:
        name = self.default_workspace_name
        return Workspace(name=name) if name else None

    @strawberry.field(description="Every workspace the user's key can read.")
    async def workspaces(self, info: Info) -> list[Workspace] | None:
        found = await info.context.loaders.workspaces.load("")
        return None if found is None else [Workspace(name=n) for n in found]


