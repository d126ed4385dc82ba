"""Assets and experiment models."""

from __future__ import annotations

from ._base import Model


class Asset(Model):
    asset_id: str
    file_name: str | None = None
    file_size: int | None = None
    type: str | None = None
    step: int | None = None
    created_at: int | None = None
    dir: str | None = None
    link: str | None = None
    metadata: str | None = None  # JSON text, when Comet sends an object
    run_context: str | None = None
    audio: bool | None = None
    can_view: bool | None = None
    histogram: bool | None = None
    image: bool | None = None
    remote: bool | None = None
    tags: tuple[str, ...] | None = None


class ExperimentModel(Model):
    experiment_model_id: str
    model_name: str
    experiment_key: str | None = None
