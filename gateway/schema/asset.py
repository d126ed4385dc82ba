"""Assets and the models an experiment logged."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from ..context import Info
from ..upstream import models
from ._doc import d
from .scalars import Long, from_millis

if TYPE_CHECKING:
    from .experiment import Experiment


@strawberry.enum(description="Which assets to list (Comet's asset types).")
class AssetType(enum.Enum):
    ALL = "all"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    HISTOGRAM3D = "histogram3d"
    HISTOGRAM_COMBINED_3D = "histogram_combined_3d"
    CONFUSION_MATRIX = "confusion-matrix"
    SOURCE_CODE = "source_code"
    UNKNOWN = "unknown"


@strawberry.type(description="A file an experiment logged. Its bytes are at `downloadUrl`.")
class Asset:
    id: strawberry.ID = d("Comet's assetId.")
    file_name: str = d("The file's name.")
    file_size: Long | None = d("Its size in bytes.")
    type: str | None = d("Its asset type (image, audio, model-element, ...).")
    step: Long | None = d("The step it was logged at.")
    created_at: dt.datetime | None = d("When it was logged.")
    dir: str | None = d("The directory it was logged under.")
    link: str | None = d("Comet's own link to it (needs a Comet login).")
    metadata: str | None = d("Metadata logged with it, as JSON text.")
    run_context: str | None = d("The run context it was logged in.")
    audio: bool | None = d("Whether it is audio.")
    can_view: bool | None = d("Whether Comet can show it as an image.")
    histogram: bool | None = d("Whether it is a histogram.")
    image: bool | None = d("Whether it is an image.")
    remote: bool | None = d("Whether it is a remote (linked, not uploaded) asset.")
    tags: list[str] | None = d("Its tags.")
    experiment_key: strawberry.Private[str]

    @classmethod
    def of(cls, a: models.Asset, experiment_key: str) -> Asset:
        return cls(
            id=strawberry.ID(a.asset_id), file_name=a.file_name or "", file_size=a.file_size,
            type=a.type, step=a.step, created_at=from_millis(a.created_at), dir=a.dir,
            link=a.link, metadata=a.metadata, run_context=a.run_context, audio=a.audio,
            can_view=a.can_view, histogram=a.histogram, image=a.image, remote=a.remote,
            tags=None if a.tags is None else list(a.tags), experiment_key=experiment_key)

    @strawberry.field(description="The experiment that logged it.")
    def experiment(self) -> Annotated[Experiment, strawberry.lazy(".experiment")]:
        from .experiment import Experiment

        return Experiment(key=strawberry.ID(self.experiment_key))

    @strawberry.field(description="The gateway's streaming download of its bytes; send the "
                                  "same Authorization header. With `artifactVersionId`, the "
                                  "file of that artifact version (Comet's get-asset "
                                  "parameter of the same name).")
    def download_url(self, info: Info, artifact_version_id: strawberry.ID | None = None) -> str:
        return info.context.link("/download/asset", experimentKey=self.experiment_key,
                                 assetId=str(self.id),
                                 artifactVersionId=None if artifact_version_id is None
                                 else str(artifact_version_id))


@strawberry.type(description="A model an experiment logged (log_model).")
class ExperimentModel:
    id: strawberry.ID = d("Comet's experimentModelId.")
    name: str = d("The model's name.")
    experiment_key: strawberry.Private[str]

    @strawberry.field(description="The experiment that logged it.")
    def experiment(self) -> Annotated[Experiment, strawberry.lazy(".experiment")]:
        from .experiment import Experiment

        return Experiment(key=strawberry.ID(self.experiment_key))

    @strawberry.field(description="The model's files.")
    async def assets(self, info: Info) -> list[Asset] | None:
        found = await info.context.loaders.model_assets.load((self.experiment_key, self.name))
        return None if found is None else [Asset.of(a, self.experiment_key) for a in found]

    @strawberry.field(description="The gateway's streaming download of the model as a zip.")
    def download_url(self, info: Info) -> str:
        return info.context.link("/download/experiment-model",
                                 experimentKey=self.experiment_key, modelName=self.name)


@strawberry.type(description="A version of an artifact an experiment logged or used, named by "
                              "the experiment and the version (Comet's Download Artifact takes "
                              "these). Comet's read API lists no artifacts, so the gateway does "
                              "not check that the version exists: its download answers 404 "
                              "when it does not.")
class ArtifactVersion:
    version: str = d("The version, as the experiment knows it (e.g. 1.0.0).")
    experiment_key: strawberry.Private[str]

    @strawberry.field(description="The experiment it was asked through.")
    def experiment(self) -> Annotated[Experiment, strawberry.lazy(".experiment")]:
        from .experiment import Experiment

        return Experiment(key=strawberry.ID(self.experiment_key))

    @strawberry.field(description="The gateway's streaming download of the version's files "
                                  "(Comet's artifacts/version/download); send the same "
                                  "Authorization header.")
    def download_url(self, info: Info) -> str:
        return info.context.link("/download/artifact", experimentKey=self.experiment_key,
                                 version=self.version)
