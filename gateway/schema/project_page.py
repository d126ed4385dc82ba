"""A page of a workspace's projects as Comet's project browser shows them (projects/page)."""

from __future__ import annotations

import datetime as dt
import enum

import strawberry

from ..context import Info
from ..errors import BadUserInput
from ..loaders import ProjectsPageRequest
from ..upstream import models
from ._doc import d
from .pagination import MAX_PAGE
from .project import Project
from .scalars import from_millis


@strawberry.enum(description="What to sort the project browser by.")
class ProjectSort(enum.Enum):
    LAST_UPDATED = "lastUpdated"
    NAME = "projectName"
    EXPERIMENT_COUNT = "experimentCount"
    CREATED_AT = "created_at"


@strawberry.type(description="A project as the project browser lists it.")
class ProjectRow:
    project_id: strawberry.ID = d("Comet's projectId.")
    name: str = d("The project's name.")
    description: str | None = d("Its description.")
    user_name: str | None = d("Its owner's user name.")
    team_id: str | None = d("Its workspace's id.")
    team_name: str | None = d("Its workspace's name.")
    experiment_count: int | None = d("How many experiments it has.")
    created_at: dt.datetime | None = d("When it was made.")
    last_updated: dt.datetime | None = d("When it last changed.")
    last_updated_by_user: dt.datetime | None = d("When a user last changed it.")
    is_public: bool | None = d("Whether anyone can see it.")
    is_starter_project: bool | None = d("Whether it is Comet's starter project.")
    general_project: bool | None = d("Whether it is the workspace's general project.")
    can_edit: bool | None = d("Whether the caller may edit it.")
    is_in_project_team: bool | None = d("Whether the caller is on its team.")
    owned_by_viewer: bool | None = d("Whether the caller owns it (Comet's `owner`).")
    image_path: str | None = d("Its picture.")

    @classmethod
    def of(cls, r: models.ProjectRow) -> ProjectRow:
        return cls(project_id=strawberry.ID(r.project_id), name=r.project_name,
                   description=r.project_desc, user_name=r.user_name, team_id=r.team_id,
                   team_name=r.team_name, experiment_count=r.experiment_count,
                   created_at=from_millis(r.created_at), last_updated=from_millis(r.last_updated),
                   last_updated_by_user=from_millis(r.last_updated_by_user),
                   is_public=r.is_public, is_starter_project=r.is_starter_project,
                   general_project=r.general_project, can_edit=r.can_edit,
                   is_in_project_team=r.is_in_project_team, owned_by_viewer=r.owner,
                   image_path=r.image_path)

    @strawberry.field(description="The project.")
    async def project(self, info: Info) -> Project | None:
        found = await info.context.loaders.project.load(str(self.project_id))
        return None if found is None else Project.of(found)


@strawberry.type(description="A page of the project browser.")
class ProjectPage:
    rows: list[ProjectRow] = d("The projects of this page.")
    filtered_row_count: int | None = d("How many projects match the search and filters.")
    total_row_count: int | None = d("How many projects the workspace has.")


async def project_page(info: Info, workspace: str, offset: int, count: int, search: str | None,
                       sort: ProjectSort | None, descending: bool, owner: str | None,
                       public: bool | None, starter_project: bool | None) -> ProjectPage | None:
    if offset < 0 or not 0 < count <= MAX_PAGE:
        raise BadUserInput(f"offset must be at least 0 and count between 1 and {MAX_PAGE}")
    found = await info.context.loaders.projects_page.load(ProjectsPageRequest(
        workspace, offset, count, sort.value if sort else None, "desc" if descending else "asc",
        owner, public, starter_project, search))
    if found is None:
        return None
    return ProjectPage(rows=[ProjectRow.of(r) for r in found.rows],
                       filtered_row_count=found.filtered_row_count,
                       total_row_count=found.total_row_count)
