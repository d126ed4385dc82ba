"""Accounts, projects, their pages, columns and query results."""

from __future__ import annotations

from ._base import Model, alias


class Account(Model):
    user_name: str
    default_workspace_name: str | None = None


class Project(Model):
    project_id: str
    project_name: str
    workspace_name: str | None = None
    workspace_id: str | None = None
    owner_user_name: str | None = None
    project_description: str | None = None
    is_public: bool | None = None
    number_of_experiments: int | None = None
    last_updated: int | None = None  # epoch milliseconds


class ProjectRow(Model):
    """One row of `projects/page`."""

    project_id: str
    project_name: str
    project_desc: str | None = None
    team_id: str | None = None
    team_name: str | None = None
    user_name: str | None = None
    can_edit: bool | None = None
    created_at: int | None = alias("created_at")
    experiment_count: int | None = None
    general_project: bool | None = None
    image_path: str | None = None
    is_in_project_team: bool | None = None
    is_public: bool | None = None
    is_starter_project: bool | None = None
    last_updated: int | None = None
    last_updated_by_user: int | None = None
    owner: bool | None = None  # whether the caller owns it
    filtered_row_count: int | None = None
    total_row_count: int | None = None


class ProjectPage(Model):
    rows: tuple[ProjectRow, ...] = ()
    filtered_row_count: int | None = None
    total_row_count: int | None = None


class ProjectColumn(Model):
    name: str
    source: str
    id: str | None = None
    type: str | None = None


class ProjectQueryResult(Model):
    experiment_keys: tuple[str, ...] = ()
    experiments_in_project: int | None = None
