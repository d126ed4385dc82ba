"""The model registry: models, their versions, and the experiments that made them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

import strawberry
from graphql.pyutils import AwaitableOrValue

from ..context import Info
from ..upstream import models
from ._doc import d
from .asset import Asset, ExperimentModel
from .at_hand import pick
from .experiment import Experiment
from .metrics import KeyValue
from .scalars import from_millis
from .workspace import Workspace

T = TypeVar("T")


@strawberry.type(description="A webhook called when a registry model's stage changes.")
class Webhook:
    url: str = d("Where it posts.")
    headers: list[KeyValue] = d("The headers it sends, as Comet returns them to this key "
                                "(they often hold tokens: treat them as secrets).")


@strawberry.type(description="The webhooks of a registry model.")
class WebhookConfig:
    urls: list[Webhook] = d("Every webhook.")


@strawberry.type(description="One version of a registry model.")
class RegistryModelVersion:
    id: strawberry.ID = d("Comet's registryModelItemId.")
    version: str = d("The version (semantic versioning).")
    stages: list[str] = d("Its stages (production, staging, ...).")
    comment: str | None = d("Its comment.")
    owner: str | None = d("Who registered it.")
    created_at: dt.datetime | None = d("When it was registered.")
    last_updated: dt.datetime | None = d("When it last changed.")
    metadata: list[str | None] | None = d("Its assets' metadata (in the workspace's list).")
    known: strawberry.Private[models.RegistryModelVersion]
    workspace_name: strawberry.Private[str]
    model_name: strawberry.Private[str]

    @classmethod
    def of(cls, v: models.RegistryModelVersion, workspace: str, model: str
           ) -> RegistryModelVersion:
        return cls(id=strawberry.ID(v.registry_model_item_id), version=v.version,
                   stages=list(v.stages), comment=v.comment, owner=v.user_name,
                   created_at=from_millis(v.created_at), last_updated=from_millis(v.last_updated),
                   metadata=None if v.metadata is None else list(v.metadata), known=v,
                   workspace_name=workspace, model_name=model)

    def _experiment_key(self) -> str | None:
        ref = self.known.experiment_model
        return ref.experiment_key if ref else None

    @strawberry.field(description="Its files.", graphql_type=list[Asset] | None)
    def assets(self, info: Info) -> AwaitableOrValue[list[Asset] | None]:
        key = self._experiment_key() or ""
        return pick(self.known.assets, lambda: self._details_assets(info),
                    lambda found: [Asset.of(a, key) for a in found])

    async def _details_assets(self, info: Info) -> tuple[models.Asset, ...] | None:
        # Listed without them: the model's details hold them.
        details = await info.context.loaders.registry_details.load(
            (self.workspace_name, self.model_name))
        same = next((v for v in (details.versions or ()) if v.version == self.version),
                    None) if details else None
        return same.assets if same else None

    @strawberry.field(description="The experiment model it was registered from.")
    def experiment_model(self) -> ExperimentModel | None:
        ref = self.known.experiment_model
        if ref is None or not ref.experiment_model_id or not ref.experiment_key:
            return None
        return ExperimentModel(id=strawberry.ID(ref.experiment_model_id),
                               name=ref.experiment_model_name or "",
                               experiment_key=ref.experiment_key)

    @strawberry.field(description="The experiment that logged this model.")
    async def experiment(self, info: Info) -> Experiment | None:
        key = self._experiment_key()
        meta = await info.context.loaders.metadata.load(key) if key else None
        return None if meta is None else Experiment.of(meta)

    @strawberry.field(description="The gateway's streaming download of this version as a zip.")
    def download_url(self, info: Info) -> str:
        return info.context.link("/download/registry-model", workspace=self.workspace_name,
                                 modelName=self.model_name, version=self.version)


@strawberry.type(description="A model in a workspace's model registry.")
class RegistryModel:
    id: strawberry.ID = d("Comet's registryModelId.")
    name: str = d("The model's name.")
    description: str | None = d("Its description.")
    is_public: bool = d(
        "Whether anyone can see it. Comet sends this flag with every model, and a model is "
        "private until someone makes it public: an answer without the flag (or with null) "
        "reads as false.")
    owner: str | None = d("Who registered it.")
    created_at: dt.datetime | None = d("When it was registered.")
    last_updated: dt.datetime | None = d("When it last changed.")
    known: strawberry.Private[models.RegistryModel]
    workspace_name: strawberry.Private[str]

    @classmethod
    def of(cls, m: models.RegistryModel, workspace: str) -> RegistryModel:
        return cls(id=strawberry.ID(m.registry_model_id), name=m.model_name,
                   description=m.description, is_public=m.is_public is True, owner=m.user_name,
                   created_at=from_millis(m.created_at), last_updated=from_millis(m.last_updated),
                   known=m, workspace_name=workspace)

    @strawberry.field(description="The workspace it belongs to.")
    def workspace(self) -> Workspace:
        return Workspace(name=self.workspace_name)

    @strawberry.field(description="Its notes (Markdown).")
    async def notes(self, info: Info) -> str | None:
        return await info.context.loaders.registry_notes.load((self.workspace_name, self.name))

    # A model listed with its versions holds them; else its details do (at_hand).
    async def _details_versions(self, info: Info
                                ) -> tuple[models.RegistryModelVersion, ...] | None:
        details = await info.context.loaders.registry_details.load((self.workspace_name,
                                                                    self.name))
        return None if details is None else details.versions or ()

    def _with_versions(self, info: Info,
                       use: Callable[[tuple[models.RegistryModelVersion, ...]], T]
                       ) -> AwaitableOrValue[T | None]:
        return pick(self.known.versions, lambda: self._details_versions(info), use)

    @strawberry.field(description="The gateway's streaming download (a zip) of the version "
                                  "that holds `stage` now (\"production\", \"staging\", "
                                  "...), as Comet resolves it when the download is made: a "
                                  "stage no version holds answers 404.")
    def stage_download_url(self, info: Info, stage: str) -> str:
        return info.context.link("/download/registry-model", workspace=self.workspace_name,
                                 modelName=self.name, stage=stage)

    def _version(self, v: models.RegistryModelVersion) -> RegistryModelVersion:
        return RegistryModelVersion.of(v, self.workspace_name, self.name)

    @strawberry.field(description="Every version.",
                      graphql_type=list[RegistryModelVersion] | None)
    def versions(self, info: Info) -> AwaitableOrValue[list[RegistryModelVersion] | None]:
        return self._with_versions(info, lambda found: [self._version(v) for v in found])

    @strawberry.field(description="The newest version.",
                      graphql_type=RegistryModelVersion | None)
    def latest_version(self, info: Info) -> AwaitableOrValue[RegistryModelVersion | None]:
        if self.known.latest_version is not None:
            return self._version(self.known.latest_version)
        return self._with_versions(info, self._newest)

    def _newest(self, found: tuple[models.RegistryModelVersion, ...]
                ) -> RegistryModelVersion | None:
        latest = max(found, key=lambda v: v.created_at or 0, default=None)
        return None if latest is None else self._version(latest)

    @strawberry.field(description="One version, by its version string.",
                      graphql_type=RegistryModelVersion | None)
    def version(self, info: Info, version: str
                ) -> AwaitableOrValue[RegistryModelVersion | None]:
        return self._with_versions(info, lambda found: next(
            (self._version(v) for v in found if v.version == version), None))

    @strawberry.field(description="Its webhooks.")
    async def webhooks(self, info: Info) -> WebhookConfig | None:
        found = await info.context.loaders.webhooks.load((self.workspace_name, self.name))
        if found is None:
            return None
        return WebhookConfig(urls=[
            Webhook(url=w.url, headers=[KeyValue(key=k, value=v)
                                        for k, v in (w.header or {}).items()])
            for w in found.webhook_urls])
