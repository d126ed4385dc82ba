"""Code panels and dashboard templates."""

from __future__ import annotations

from typing import Any

from ._base import Model, alias


class PanelSummary(Model):
    """A row of `code-panel/get-all`."""

    template_id: str
    template_name: str | None = None
    owner: str | None = None
    scope_type: str | None = None
    team_id: str | None = None
    query_builder_id: str | None = None
    revision_id: int | None = None
    created_at: int | None = None


class PanelResource(Model):
    name: str | None = None
    version: str | None = None
    enabled: bool | None = None


class PanelCode(Model):
    code: str | None = None
    css: str | None = None
    default_config: str | None = None
    description: str | None = None
    html: str | None = None
    internal_resources: tuple[PanelResource, ...] | None = None
    py_code: str | None = None
    py_config: str | None = None
    type: str | None = None
    user_resources: tuple[PanelResource, ...] | None = None


class PanelRank(Model):
    template_id: str | None = None
    user_vote_type: str | None = None
    vote_count: int | None = None



class Panel(PanelSummary):
    """`code-panel/download`: a panel's row, with its code."""

    code: PanelCode | None = None
    editable: bool | None = None
    rank: PanelRank | None = None
    thumbnail_name: str | None = None


class DashboardTemplateSummary(Model):
    template_id: str
    template_name: str | None = None
    created_by: str | None = None
    project_id: str | None = None
    project_name: str | None = None


class Dashboard(Model):
    """`dashboard-templates/download` (some of its keys are snake_case)."""

    template_id: str = alias("template_id", "")
    template_name: str | None = alias("template_name")
    created_by: str | None = alias("created_by")
    project_id: str | None = alias("project_id")
    project_default: bool | None = alias("project_default")
    unsaved_view: bool | None = alias("unsaved_view")
    code_panel_template_ids: tuple[str, ...] | None = None
    current: bool | None = None
    dashboard_chart_state: str | None = None
    experiment_query_state: str | None = None
    is_auto_refresh_enabled: bool | None = None
    pinned_experiments: tuple[str, ...] | None = None
    react_grid_table_state: str | None = None
    source: str | None = None
    v2: Any = None
