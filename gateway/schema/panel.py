"""Code panels and dashboard templates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import strawberry
from graphql.pyutils import AwaitableOrValue

from ..context import Info
from ..upstream import models
from ._doc import d
from .at_hand import pick
from .experiment import Experiment
from .scalars import JSON, Long, from_millis

if TYPE_CHECKING:
    from .project import Project

T = TypeVar("T")


@strawberry.type(description="A library or script a panel loads.")
class PanelResource:
    name: str | None = d("Its name.")
    version: str | None = d("Its version.")
    enabled: bool | None = d("Whether it is loaded.")


@strawberry.type(description="A panel's source: JavaScript, Python, HTML and CSS.")
class PanelCode:
    code: str | None = d("The JavaScript code.")
    css: str | None = d("The CSS.")
    default_config: str | None = d("The default configuration, as JSON text.")
    description: str | None = d("The panel's description.")
    html: str | None = d("The HTML.")
    internal_resources: list[PanelResource] | None = d("Comet-provided libraries it loads.")
    py_code: str | None = d("The Python code.")
    py_config: str | None = d("The Python configuration.")
    type: str | None = d("Its kind: js or py.")
    user_resources: list[PanelResource] | None = d("Other libraries it loads.")

    @classmethod
    def of(cls, c: models.PanelCode) -> PanelCode:
        def resources(rs: tuple[models.PanelResource, ...] | None) -> list[PanelResource] | None:
            return None if rs is None else [
                PanelResource(name=r.name, version=r.version, enabled=r.enabled) for r in rs]

        return cls(code=c.code, css=c.css, default_config=c.default_config,
                   description=c.description, html=c.html,
                   internal_resources=resources(c.internal_resources), py_code=c.py_code,
                   py_config=c.py_config, type=c.type,
                   user_resources=resources(c.user_resources))


@strawberry.type(description="A code panel: a custom visualization shared in a workspace.")
class Panel:
    template_id: strawberry.ID = d("Comet's templateId.")
    name: str = d("The panel's name.")
    owner: str | None = d("Who made it.")
    scope_type: str | None = d("Who can see it: PUBLIC or PRIVATE.")
    team_id: str | None = d("The workspace's id.")
    query_builder_id: str | None = d("Its query builder's id.")
    revision_id: Long | None = d("Its revision.")
    created_at: dt.datetime | None = d("When it was made.")
    known: strawberry.Private[models.Panel | None] = None

    @strawberry.field(description="The same as `templateId`: a stable id for normalized "
                                  "client caches.")
    def id(self) -> strawberry.ID:
        return self.template_id

    @classmethod
    def of_summary(cls, p: models.PanelSummary | models.Panel) -> Panel:
        return cls(template_id=strawberry.ID(p.template_id), name=p.template_name or "",
                   owner=p.owner, scope_type=p.scope_type, team_id=p.team_id,
                   query_builder_id=p.query_builder_id, revision_id=p.revision_id,
                   created_at=from_millis(p.created_at),
                   known=p if isinstance(p, models.Panel) else None)

    async def _full(self, info: Info) -> models.Panel | None:
        if self.known is None:
            self.known = await info.context.loaders.panel.load(str(self.template_id))
        return self.known

    # Listed panels come without these; a panel fetched by id holds them (at_hand).
    def _with_full(self, info: Info, use: Callable[[models.Panel], T]
                   ) -> AwaitableOrValue[T | None]:
        return pick(self.known, lambda: self._full(info), use)

    @strawberry.field(description="Its source.", graphql_type=PanelCode | None)
    def code(self, info: Info) -> AwaitableOrValue[PanelCode | None]:
        return self._with_full(info, lambda p: None if p.code is None else PanelCode.of(p.code))

    @strawberry.field(description="Whether the caller may edit it.", graphql_type=bool | None)
    def editable(self, info: Info) -> AwaitableOrValue[bool | None]:
        return self._with_full(info, lambda p: p.editable)

    @strawberry.field(description="Its vote count.", graphql_type=int | None)
    def vote_count(self, info: Info) -> AwaitableOrValue[int | None]:
        return self._with_full(info, lambda p: None if p.rank is None else p.rank.vote_count)

    @strawberry.field(description="The caller's vote on it.", graphql_type=str | None)
    def user_vote_type(self, info: Info) -> AwaitableOrValue[str | None]:
        return self._with_full(info,
                               lambda p: None if p.rank is None else p.rank.user_vote_type)

    @strawberry.field(description="The name of its thumbnail.", graphql_type=str | None)
    def thumbnail_name(self, info: Info) -> AwaitableOrValue[str | None]:
        return self._with_full(info, lambda p: p.thumbnail_name)

    @strawberry.field(description="The gateway's streaming download of the panel as a zip.")
    def download_url(self, info: Info) -> str:
        return info.context.link("/download/panel", str(self.template_id))


@strawberry.type(description="A saved dashboard (view) of a project.")
class DashboardTemplate:
    template_id: strawberry.ID = d("Comet's templateId.")
    name: str = d("The dashboard's name.")
    created_by: str | None = d("Who made it.")
    project_id: strawberry.Private[str | None]
    workspace_name: strawberry.Private[str | None]  # unknown when looked up by id alone
    parent: strawberry.Private[Any] = None

    @strawberry.field(description="The same as `templateId`: a stable id for normalized "
                                  "client caches.")
    def id(self) -> strawberry.ID:
        return self.template_id

    @classmethod
    def of(cls, t: models.DashboardTemplateSummary, workspace: str,
           parent: Any = None) -> DashboardTemplate:
        return cls(template_id=strawberry.ID(t.template_id), name=t.template_name or "",
                   created_by=t.created_by, project_id=t.project_id, workspace_name=workspace,
                   parent=parent)

    @strawberry.field(description="The project it belongs to.",
                      graphql_type=Annotated["Project", strawberry.lazy(".project")] | None)
    def project(self, info: Info) -> AwaitableOrValue[Project | None]:
        if self.parent is not None:  # listed under it
            return cast("Project", self.parent)
        return self._project(info)

    @classmethod
    def of_full(cls, t: models.Dashboard) -> DashboardTemplate:
        """From its full definition: what a lookup by templateId reads (the same call as
        its other fields)."""
        return cls(template_id=strawberry.ID(t.template_id), name=t.template_name or "",
                   created_by=t.created_by, project_id=t.project_id, workspace_name=None)

    async def _project(self, info: Info) -> Project | None:
        from .project import Project

        found = await info.context.loaders.project.load(self.project_id) if self.project_id \
            else None
        return None if found is None else Project.of(found)

    async def _full(self, info: Info) -> models.Dashboard | None:
        return await info.context.loaders.dashboard.load(str(self.template_id))

    @strawberry.field(description="Whether it refreshes by itself.")
    async def is_auto_refresh_enabled(self, info: Info) -> bool | None:
        full = await self._full(info)
        return None if full is None else full.is_auto_refresh_enabled

    @strawberry.field(description="Whether it is the project's default view.")
    async def project_default(self, info: Info) -> bool | None:
        full = await self._full(info)
        return None if full is None else full.project_default

    @strawberry.field(description="The code panels it shows.")
    async def code_panels(self, info: Info) -> list[Panel] | None:
        full = await self._full(info)
        if full is None:
            return None
        found = await info.context.loaders.panel.load_many(full.code_panel_template_ids or ())
        return [Panel.of_summary(p) for p in found if p is not None]

    @strawberry.field(description="The experiments pinned to it.")
    async def pinned_experiments(self, info: Info) -> list[Experiment] | None:
        full = await self._full(info)
        return None if full is None else [Experiment(key=strawberry.ID(k))
                                          for k in full.pinned_experiments or ()]

    @strawberry.field(description="Its full definition as Comet stores it (chart state, "
                                  "filters, table state, ...), as JSON.")
    async def definition(self, info: Info) -> JSON | None:
        full = await self._full(info)
        if full is None:
            return None
        return {"dashboardChartState": full.dashboard_chart_state,
                "experimentQueryState": full.experiment_query_state,
                "reactGridTableState": full.react_grid_table_state, "source": full.source,
                "current": full.current, "unsavedView": full.unsaved_view,
                "v2": full.v2}  # type: ignore[return-value]
