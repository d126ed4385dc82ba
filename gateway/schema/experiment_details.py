"""What an experiment ran on: git, system, cloud."""

from __future__ import annotations

import strawberry

from ..upstream import models
from ._doc import d
from .metrics import KeyValue
from .scalars import JSON, Long


@strawberry.type(description="The git state the experiment ran from.")
class GitMetadata:
    branch: str | None = d("The branch.")
    origin: str | None = d("The remote's URL.")
    parent: str | None = d("The parent commit.")
    root: str | None = d("The repository's root directory.")
    user: str | None = d("The git user.")

    @classmethod
    def of(cls, g: models.GitMetadata) -> GitMetadata:
        return cls(branch=g.branch, origin=g.origin, parent=g.parent, root=g.root, user=g.user)


@strawberry.type(description="A GPU the experiment saw.")
class GpuInfo:
    gpu_index: int | None = d("Its index.")
    name: str | None = d("Its model name.")
    power_limit: Long | None = d("Its power limit.")
    total_memory: Long | None = d("Its memory, in bytes.")
    uuid: str | None = d("Its unique id.")


@strawberry.type(description="The machine and environment the experiment ran in.")
class SystemDetails:
    command: list[str] | None = d("The command line.")
    executable: str | None = d("The interpreter.")
    gpus: list[GpuInfo] | None = d("The GPUs (Comet's gpuStaticInfoList).")
    hostname: str | None = d("The host's name.")
    installed_packages: list[str] | None = d("Python packages installed.")
    ip: str | None = d("The host's IP address.")
    additional_info: list[KeyValue] | None = d(
        "Extra system information logged (Comet's logAdditionalSystemInfoList).")
    max_total_memory: float | None = d("The most memory used, in bytes.")
    network_interface_ips: list[str] | None = d("Addresses of the network interfaces.")
    os: str | None = d("The operating system, with its version.")
    os_packages: list[str] | None = d("Operating-system packages installed.")
    os_type: str | None = d("The operating system's family.")
    pid: int | None = d("The process id.")
    python_version: str | None = d("The Python version.")
    python_version_verbose: str | None = d("The Python version, verbose.")
    system_metric_names: list[str] | None = d("Names of the system metrics logged.")
    user: str | None = d("The system user.")

    @classmethod
    def of(cls, s: models.SystemDetails) -> SystemDetails:
        def strings(values: tuple[str, ...] | None) -> list[str] | None:
            return None if values is None else list(values)

        return cls(
            command=strings(s.command), executable=s.executable,
            gpus=None if s.gpu_static_info_list is None else [
                GpuInfo(gpu_index=g.gpu_index, name=g.name, power_limit=g.power_limit,
                        total_memory=g.total_memory, uuid=g.uuid)
                for g in s.gpu_static_info_list],
            hostname=s.hostname, installed_packages=strings(s.installed_packages), ip=s.ip,
            additional_info=None if s.log_additional_system_info_list is None else [
                KeyValue(key=kv.key or "", value=kv.value)
                for kv in s.log_additional_system_info_list],
            max_total_memory=s.max_total_memory,
            network_interface_ips=strings(s.network_interface_ips), os=s.os,
            os_packages=strings(s.os_packages), os_type=s.os_type, pid=s.pid,
            python_version=s.python_version, python_version_verbose=s.python_version_verbose,
            system_metric_names=strings(s.system_metric_names), user=s.user)


@strawberry.type(description="Where the experiment ran in the cloud, when it did.")
class CloudDetails:
    provider: str | None = d("The cloud provider.")
    metadata: JSON | None = d("What the provider reported (instance type, region, ...).")
