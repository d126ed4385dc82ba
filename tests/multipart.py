"""Reading an answer in parts (`multipart/mixed`, GraphQL over HTTP's incremental delivery) as
a strict client would, and merging its parts back into one answer."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

APOLLO = "multipart/mixed;deferSpec=20220824,application/json"  # what Apollo Client 3 sends
GRAPHIQL = "application/json, multipart/mixed"  # what GraphiQL's fetcher sends


def read_parts(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """Every part's JSON, in order; fails on any departure from the framing: the boundary the
    content type names, `--boundary` first, each part with its JSON `Content-Type` and an
    exact `Content-Length`, `--boundary--` and a line break last."""
    match = re.match(r'multipart/mixed;\s*boundary="?([^";]+)"?', content_type)
    assert match, content_type
    delimiter = b"--" + match.group(1).encode()
    closing = b"\r\n" + delimiter + b"--\r\n"
    assert body.startswith(delimiter) and body.endswith(closing), body[-80:]
    parts = []
    for chunk in body[len(delimiter):-len(closing)].split(b"\r\n" + delimiter):
        assert chunk.startswith(b"\r\n"), chunk[:80]
        head, _, payload = chunk[2:].partition(b"\r\n\r\n")
        headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        assert headers[b"Content-Type"] == b"application/json; charset=utf-8"
        assert int(headers[b"Content-Length"]) == len(payload)
        parts.append(json.loads(payload))
    return parts


def _at(data: Any, path: list[str | int]) -> Any:
    for step in path:
        data = data[step]
    return data


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for name, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(name), dict):
            _merge(target[name], value)
        else:
            target[name] = value


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole answer the parts make, in either format (`path`, or `id` and `subPath`):
    `data`, and `errors` when any part has some."""
    answer = copy.deepcopy(parts[0]["data"])
    errors = list(parts[0].get("errors", ()))
    paths = {p["id"]: p["path"] for p in parts[0].get("pending", ())}
    for part in parts[1:]:
        paths.update({p["id"]: p["path"] for p in part.get("pending", ())})
        for entry in part.get("incremental", ()):
            path = entry["path"] if "path" in entry else [
                *paths[entry["id"]], *entry.get("subPath", ())]
            if entry.get("data") is not None:
                _merge(_at(answer, path), entry["data"])
            errors += entry.get("errors", ())
        for completed in part.get("completed", ()):
            errors += completed.get("errors", ())
    return {"data": answer, **({"errors": errors} if errors else {})}
