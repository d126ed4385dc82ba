"""The model registry: models, versions, webhooks."""

from __future__ import annotations

from ._base import Model
from .asset import Asset


class ExperimentModelRef(Model):
    experiment_key: str | None = None
    experiment_model_id: str | None = None
    experiment_model_name: str | None = None


class RegistryModelVersion(Model):
    registry_model_item_id: str
    version: str
    stages: tuple[str, ...] = ()
    comment: str | None = None
    user_name: str | None = None
    created_at: int | None = None
    last_updated: int | None = None
    experiment_model: ExperimentModelRef | None = None
    assets: tuple[Asset, ...] | None = None  # in `details`
    metadata: tuple[str | None, ...] | None = None  # in the model list: its assets' metadata


class RegistryModel(Model):
    registry_model_id: str
    model_name: str
    description: str | None = None
    is_public: bool | None = None
    user_name: str | None = None
    created_at: int | None = None
    last_updated: int | None = None
    latest_version: RegistryModelVersion | None = None  # in the workspace's list
    versions: tuple[RegistryModelVersion, ...] | None = None  # in `details`


class WebhookUrl(Model):
    url: str
    header: dict[str, str] | None = None


class WebhookConfig(Model):
    model_name: str | None = None
    workspace_name: str | None = None
    webhook_urls: tuple[WebhookUrl, ...] = ()
