"""What an answer is sent as, from the client's `Accept` header (RFC 9110 §12.5.1).

Three kinds of answer: the whole answer as `application/json` (the default, and the fallback
when the header takes nothing the gateway speaks), as `application/graphql-response+json`
(GraphQL over HTTP), or in parts as `multipart/mixed` in one of two formats (see
`incremental`). The client's qualities rank them: `multipart/mixed;q=0.5, application/json`
asks for a whole answer, and gets one. Ties go to what the client can read best: parts over a
whole answer (a client that names `multipart/mixed` at all reads parts), then
`graphql-response+json` over `application/json` (its status codes say more), then the
earlier range.

A media range counts for the most specific range that matches it, as the RFC says
(`application/json;q=0, */*` refuses JSON). Wildcards reach `application/json` only: parts
and `graphql-response+json` are sent to clients that name them, since a client that says
`*/*` may read neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from .incremental import Format

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"


@dataclass(frozen=True, slots=True)
class Choice:
    """The answer's kind: in parts of `parts`' format when parts can be sent (else whole), and
    a whole answer as `graphql-response+json` or plain JSON."""

    parts: Format | None
    graphql_response: bool


WHOLE_JSON = Choice(None, False)  # no Accept header: a whole answer as application/json


@dataclass(frozen=True, slots=True)
class _Range:
    media: str  # type/subtype, lowercased
    params: dict[str, str]  # lowercased, without q
    quality: float
    index: int


def negotiate(accept: str | None) -> Choice:
    ranges = _ranges(accept)
    json = 1.0 if accept is None or not accept.strip() else _quality(ranges, JSON)
    graphql_response = _quality(ranges, GRAPHQL_RESPONSE, wildcards=False)
    prefers_graphql_response = graphql_response > 0 and graphql_response >= json
    whole = graphql_response if prefers_graphql_response else json
    parts: Format | None = None
    best: tuple[float, int] | None = None
    for r in ranges:  # the best range naming a format the gateway speaks
        found = _format(r) if r.media == "multipart/mixed" and r.quality > 0 else None
        if found is not None and r.quality >= whole and (
                best is None or r.quality > best[0]):
            parts, best = found, (r.quality, r.index)
    return Choice(parts, prefers_graphql_response)


def _format(r: _Range) -> Format | None:
    params = {k: v for k, v in r.params.items() if k != "boundary"}
    if not params or params == {"incrementalspec": "v0.2"}:
        return Format.INCREMENTAL_V02
    if params == {"deferspec": "20220824"}:
        return Format.DEFER_20220824
    return None  # a spec not spoken, such as Apollo's subscriptionSpec


def _quality(ranges: list[_Range], media: str, *, wildcards: bool = True) -> float:
    """`media`'s quality: that of the most specific range matching it (0 when none does)."""
    kind = media.split("/")[0]
    best: tuple[int, float] | None = None  # (specificity, quality)
    for r in ranges:
        if r.media == media:
            specificity = 2
        elif wildcards and r.media == f"{kind}/*":
            specificity = 1
        elif wildcards and r.media == "*/*":
            specificity = 0
        else:
            continue
        if best is None or specificity > best[0]:
            best = (specificity, r.quality)
    return 0.0 if best is None else best[1]


def _ranges(accept: str | None) -> list[_Range]:
    found = []
    for index, media_range in enumerate((accept or "").split(",")):
        media, *options = (p.strip() for p in media_range.split(";"))
        if "/" not in media:
            continue
        params = {}
        for option in options:
            name, _, value = option.partition("=")
            params[name.strip().lower()] = value.strip().strip('"').lower()
        found.append(_Range(media.lower(), params, _q(params.pop("q", "1")), index))
    return found


def _q(text: str) -> float:
    try:
        quality = float(text)
    except ValueError:  # not a quality: not what the client asked for
        return 0.0
    return quality if 0 <= quality <= 1 else 0.0
