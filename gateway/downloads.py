"""The streaming routes behind every `downloadUrl`: the caller's key goes upstream with them,
and the bytes pass through in chunks (a model zip never sits in memory)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .upstream import CometClient, Download, errors

STATUS: tuple[tuple[type[errors.UpstreamError], int, str], ...] = (
    (errors.Unauthenticated, 401, "UNAUTHENTICATED"),
    (errors.Forbidden, 403, "FORBIDDEN"),
    (errors.NotFound, 404, "NOT_FOUND"),
    (errors.RateLimited, 429, "RATE_LIMITED"),
    (errors.Timeout, 504, "UPSTREAM_UNAVAILABLE"),
    (errors.Unavailable, 502, "UPSTREAM_UNAVAILABLE"),
    (errors.BadResponse, 502, "UPSTREAM_BAD_RESPONSE"),
    (errors.BadRequest, 400, "BAD_USER_INPUT"),
)

Opener = Callable[[CometClient, Request], contextlib.AbstractAsyncContextManager[Download]]


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def _upstream_error(exc: errors.UpstreamError) -> JSONResponse:
    for cls, status, code in STATUS:
        if isinstance(exc, cls):
            headers = None
            if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
                headers = {"Retry-After": str(int(exc.retry_after + 0.999))}
            return error_response(status, code, str(exc), headers)
    return error_response(502, "UPSTREAM_UNAVAILABLE", str(exc))


def _required(request: Request, *names: str) -> list[str]:
    values = [request.query_params.get(n, "") for n in names]
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise ValueError(f"missing query parameter(s): {', '.join(missing)}")
    return values


def _asset(client: CometClient, request: Request
           ) -> contextlib.AbstractAsyncContextManager[Download]:
    key, asset_id = _required(request, "experimentKey", "assetId")

    @contextlib.asynccontextmanager
    async def followed() -> AsyncIterator[Download]:
        async with client.get_asset(key, asset_id) as answer:
            assert isinstance(answer, Download)  # redirects are followed
            yield answer

    return followed()


def _experiment_model(client: CometClient, request: Request
                      ) -> contextlib.AbstractAsyncContextManager[Download]:
    key, name = _required(request, "experimentKey", "modelName")
    return client.download_experiment_model(key, name)


def _registry_model(client: CometClient, request: Request
                    ) -> contextlib.AbstractAsyncContextManager[Download]:
    workspace, name = _required(request, "workspace", "modelName")
    version, stage = request.query_params.get("version"), request.query_params.get("stage")
    return client.download_registry_model(workspace, name, version=version, stage=stage)


def _artifact(client: CometClient, request: Request
              ) -> contextlib.AbstractAsyncContextManager[Download]:
    q = request.query_params
    return client.download_artifact(experiment_key=q.get("experimentKey"),
                                    version=q.get("version"), artifact_id=q.get("artifactId"),
                                    version_id=q.get("versionId"))


def _panel(client: CometClient, request: Request
           ) -> contextlib.AbstractAsyncContextManager[Download]:
    return client.download_panel(request.path_params["template_id"])


def routes(client_for: Callable[[Request], CometClient]) -> list[Route]:
    def route(path: str, opener: Opener) -> Route:
        async def endpoint(request: Request) -> Response:
            stack = contextlib.AsyncExitStack()
            try:
                download = await stack.enter_async_context(opener(client_for(request), request))
            except ValueError as exc:
                await stack.aclose()
                return error_response(400, "BAD_USER_INPUT", str(exc))
            except errors.UpstreamError as exc:
                await stack.aclose()
                return _upstream_error(exc)

            async def body() -> AsyncIterator[bytes]:
                try:
                    async for chunk in download.chunks():
                        yield chunk
                finally:
                    await stack.aclose()

            headers = {}
            if download.content_length is not None:
                headers["Content-Length"] = str(download.content_length)
            if download.content_disposition:
                headers["Content-Disposition"] = download.content_disposition
            return StreamingResponse(body(), media_type=download.content_type, headers=headers)

        return Route(path, endpoint, methods=["GET"])

    return [
        route("/download/asset", _asset),
        route("/download/experiment-model", _experiment_model),
        route("/download/registry-model", _registry_model),
        route("/download/artifact", _artifact),
        route("/download/panel/{template_id}", _panel),
    ]
