"""Typed, frozen answers of the Comet REST API (see `_base` for the rules)."""

from ._base import Finite, Model, Reading
from .asset import Asset, ExperimentModel
from .experiment import (
    ChartExperiment,
    ChartMetric,
    CloudDetails,
    ExperimentMetadata,
    GitMetadata,
    GpuInfo,
    KeyValue,
    MetricPoint,
    MultiMetricChart,
    OptimizerBest,
    SystemDetails,
    ValueSummary,
)
from .panel import (
    Dashboard,
    DashboardTemplateSummary,
    Panel,
    PanelCode,
    PanelRank,
    PanelResource,
    PanelSummary,
)
from .project import Account, Project, ProjectColumn, ProjectPage, ProjectQueryResult, ProjectRow
from .registry import (
    ExperimentModelRef,
    RegistryModel,
    RegistryModelVersion,
    WebhookConfig,
    WebhookUrl,
)

__all__ = [
    "Account", "Asset", "ChartExperiment", "ChartMetric", "CloudDetails", "Dashboard",
    "DashboardTemplateSummary", "ExperimentMetadata", "ExperimentModel", "ExperimentModelRef",
    "Finite", "GitMetadata", "GpuInfo", "KeyValue", "MetricPoint", "Model", "MultiMetricChart",
    "OptimizerBest", "Panel", "PanelCode", "PanelRank", "PanelResource", "PanelSummary",
    "Project", "ProjectColumn", "ProjectPage", "ProjectQueryResult", "ProjectRow", "Reading",
    "RegistryModel", "RegistryModelVersion", "SystemDetails", "ValueSummary", "WebhookConfig",
    "WebhookUrl",
]
