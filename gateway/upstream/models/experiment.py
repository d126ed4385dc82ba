"""Experiments: metadata, git, system and cloud details, summaries, metric values and charts."""

from __future__ import annotations

from typing import Any

from ._base import Finite, Model, Reading


class ExperimentMetadata(Model):
    """What `experiments` lists and `experiment/metadata` answers."""

    experiment_key: str
    experiment_name: str | None = None
    optimization_id: str | None = None
    duration_millis: int | None = None
    start_time_millis: int | None = None
    end_time_millis: int | None = None
    project_id: str | None = None
    project_name: str | None = None
    workspace_name: str | None = None
    archived: bool | None = None
    running: bool | None = None
    has_crashed: bool | None = None
    file_name: str | None = None
    file_path: str | None = None


class GitMetadata(Model):
    branch: str | None = None
    origin: str | None = None
    parent: str | None = None
    root: str | None = None
    user: str | None = None


class GpuInfo(Model):
    gpu_index: int | None = None
    name: str | None = None
    power_limit: int | None = None
    total_memory: int | None = None
    uuid: str | None = None


class KeyValue(Model):
    key: str | None = None
    value: str | None = None


class SystemDetails(Model):
    experiment_key: str | None = None
    command: tuple[str, ...] | None = None
    executable: str | None = None
    gpu_static_info_list: tuple[GpuInfo, ...] | None = None
    hostname: str | None = None
    installed_packages: tuple[str, ...] | None = None
    ip: str | None = None
    log_additional_system_info_list: tuple[KeyValue, ...] | None = None
    max_total_memory: Finite | None = None
    network_interface_ips: tuple[str, ...] | None = None
    os: str | None = None
    os_packages: tuple[str, ...] | None = None
    os_type: str | None = None
    pid: int | None = None
    python_version: str | None = None
    python_version_verbose: str | None = None
    system_metric_names: tuple[str, ...] | None = None
    user: str | None = None


class CloudDetails(Model):
    experiment_key: str | None = None
    provider: str | None = None
    metadata: Any = None


class ValueSummary(Model):
    """A metric's, parameter's or other's summary: current, min and max, with step and time."""

    name: str
    value_current: str | None = None
    value_min: str | None = None
    value_max: str | None = None
    step_current: int | None = None
    step_min: int | None = None
    step_max: int | None = None
    timestamp_current: int | None = None
    timestamp_min: int | None = None
    timestamp_max: int | None = None
    run_context_current: str | None = None
    run_context_min: str | None = None
    run_context_max: str | None = None


class MetricPoint(Model):
    metric_name: str
    metric_value: Reading | None = None
    step: int | None = None
    epoch: int | None = None
    timestamp: int | None = None
    offset: int | None = None
    run_context: str | None = None


class ChartMetric(Model):
    """One metric of one experiment in a multi-metric chart, as parallel lists."""

    metric_name: str
    values: tuple[Reading | None, ...] = ()
    steps: tuple[int | None, ...] = ()
    timestamps: tuple[int | None, ...] = ()
    durations: tuple[int | None, ...] = ()
    epochs: tuple[int | None, ...] = ()


class ChartExperiment(Model):
    experiment_key: str
    experiment_name: str | None = None
    metrics: tuple[ChartMetric, ...] = ()
    params: dict[str, Any] | None = None
    steps: tuple[int | None, ...] = ()


class MultiMetricChart(Model):
    empty: bool | None = None
    experiments: dict[str, ChartExperiment] | None = None


class OptimizerBest(Model):
    experiment_count: int | None = None
    experiment_key: str | None = None
    metric_value: Reading | None = None
