"""Errors over HTTP: codes at the edge, partial data, no upstream call for what is known bad."""

from __future__ import annotations

import json
import logging
import re
from types import SimpleNamespace

import pytest
import strawberry

from gateway.schema import GatewaySchema
from gateway.schema.errors import ErrorCodes
from tests.demo_server import DemoServer
from tests.gateway_server import GatewayServer

SANDBOX = 'project(workspace: "alice", name: "sandbox")'


def first_key(gateway: GatewayServer) -> str:
    data = gateway.data(f"{{ {SANDBOX} {{ experiments(first: 1) {{ edges {{ node {{ key }} }} }} "
                        "} }")
    return str(data["project"]["experiments"]["edges"][0]["node"]["key"])


def codes(result: dict[str, object]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]  # type: ignore


def test_no_key_is_unauthenticated_without_an_upstream_call(gateway: GatewayServer,
                                                            demo: DemoServer) -> None:
    result = gateway.post("{ viewer { userName } workspaces { name } }", key=None)
    assert result["data"] == {"viewer": None, "workspaces": None}
    assert codes(result) == ["UNAUTHENTICATED", "UNAUTHENTICATED"]
    assert demo.counts() == {}


def test_a_wrong_key_is_unauthenticated(gateway: GatewayServer) -> None:
    result = gateway.post("{ viewer { userName } }", key="not-a-key")
    assert codes(result) == ["UNAUTHENTICATED"]
    assert result["errors"][0]["extensions"]["upstream"] == {"status": 401,
                                                             "endpoint": "account_details"}


def test_a_failing_field_nulls_only_itself(gateway: GatewayServer, demo: DemoServer) -> None:
    key = first_key(gateway)
    demo.fault("experiment/tags", "status", status=503)
    result = gateway.post(f"""{{ experiment(key: "{key}") {{ name tags
                                 parameter(name: "optimizer") {{ valueCurrent }} }} }}""")
    experiment = result["data"]["experiment"]
    assert experiment["tags"] is None and experiment["name"]
    assert experiment["parameter"]["valueCurrent"] in {"adam", "sgd", "adamw"}
    assert codes(result) == ["UPSTREAM_UNAVAILABLE"]
    error = result["errors"][0]
    assert error["path"] == ["experiment", "tags"]
    assert error["extensions"]["upstream"] == {"status": 503, "endpoint": "tags"}
    assert demo.counts()["GET experiment/tags"] == 4  # the first try and three retries


def test_rate_limited_and_bad_responses_keep_their_codes(gateway: GatewayServer,
                                                         demo: DemoServer) -> None:
    key = first_key(gateway)
    demo.fault("experiment/tags", "status", status=429, retry_after="600")
    demo.fault("experiment/parameters", "garbage")
    result = gateway.post(f'{{ experiment(key: "{key}") {{ tags parameters {{ name }} }} }}')
    by_path = {e["path"][-1]: e["extensions"] for e in result["errors"]}
    assert by_path["tags"]["code"] == "RATE_LIMITED" and by_path["tags"]["retryAfter"] == 600
    assert by_path["parameters"]["code"] == "UPSTREAM_BAD_RESPONSE"


def test_an_answer_of_the_wrong_type_fails_its_field_and_names_the_place(
        gateway: GatewayServer, demo: DemoServer) -> None:
    key = first_key(gateway)
    demo.fault("experiment/system-details", "status", status=200, content_type="application/json",
               body=json.dumps({"hostname": "h", "maxTotalMemory": "NaN"}))
    result = gateway.post(f'{{ experiment(key: "{key}") {{ name systemDetails {{ hostname }} }} }}')
    assert result["data"]["experiment"]["name"] and result["data"]["experiment"][
        "systemDetails"] is None
    [error] = result["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"
    assert error["extensions"]["upstream"] == {"status": 200, "endpoint": "system_details"}
    assert "system_details" in error["message"] and "$.maxTotalMemory" in error["message"]
    assert demo.counts()["GET experiment/system-details"] == 1  # not retried


def test_a_failing_batch_fails_only_its_series(gateway: GatewayServer, demo: DemoServer) -> None:
    demo.fault("experiments/multi-metric-chart", "status", status=500)
    result = gateway.post(f"""{{ {SANDBOX} {{ experiments(first: 3) {{ edges {{ node {{
        name metricSeries(names: ["loss"]) {{ values }} }} }} }} }} }}""")
    nodes = [e["node"] for e in result["data"]["project"]["experiments"]["edges"]]
    assert [n["metricSeries"] for n in nodes] == [None, None, None]
    assert all(n["name"] for n in nodes)
    assert codes(result) == ["UPSTREAM_UNAVAILABLE"] * 3


def test_bad_arguments_are_bad_user_input(gateway: GatewayServer, demo: DemoServer) -> None:
    result = gateway.post(f'{{ {SANDBOX} {{ experiments(first: 501) {{ totalCount }} }} }}')
    assert codes(result) == ["BAD_USER_INPUT"] and "500" in result["errors"][0]["message"]
    result = gateway.post(f'{{ {SANDBOX} {{ experiments(after: "bogus") {{ totalCount }} }} }}')
    assert codes(result) == ["BAD_USER_INPUT"] and "cursor" in result["errors"][0]["message"]
    result = gateway.post("{ project { name } }")
    assert codes(result) == ["BAD_USER_INPUT"]
    demo.clear_log()
    result = gateway.post("{ nosuchfield }")
    assert codes(result) == ["BAD_USER_INPUT"] and result.get("data") is None
    result = gateway.post("{ viewer { ")
    assert codes(result) == ["BAD_USER_INPUT"]
    assert demo.counts() == {}


def test_missing_things_are_null_not_errors(gateway: GatewayServer) -> None:
    result = gateway.post("""{ experiment(key: "0000") { name }
                               project(id: "nope") { name }
                               panel(templateId: "nope") { name } }""")
    assert result == {"data": {"experiment": None, "project": None, "panel": None}}


def test_unexpected_errors_are_masked_with_a_request_id(
        caplog: pytest.LogCaptureFixture) -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def boom(self) -> str | None:
            raise RuntimeError("secret detail")

    schema = GatewaySchema(query=Query, extensions=[ErrorCodes])
    context = SimpleNamespace(request_id="req-42")
    caplog.set_level(logging.INFO, logger="gateway.errors")
    result = schema.execute_sync("{ boom }", context_value=context)
    assert result.errors is not None and len(result.errors) == 1
    error = result.errors[0]
    assert error.message == "Internal error (request id req-42)."
    assert error.extensions == {"code": "INTERNAL", "requestId": "req-42"}
    assert "secret detail" not in error.message
    assert "req-42" in caplog.text and "RuntimeError" in caplog.text  # the log has the cause
    assert "Traceback" not in caplog.text


def test_the_request_id_is_echoed(gateway: GatewayServer) -> None:
    answer = gateway.http("POST", "/graphql", b'{"query": "{ __typename }"}',
                          {"Content-Type": "application/json", "X-Request-Id": "abc-123"})
    assert answer.status == 200 and answer.headers["x-request-id"] == "abc-123"
    other = gateway.http("POST", "/graphql", b'{"query": "{ __typename }"}',
                         {"Content-Type": "application/json", "X-Request-Id": "bad id!"})
    assert re.fullmatch(r"[0-9a-f]{16}", other.headers["x-request-id"])


def test_logs_hold_no_key_and_no_traceback(gateway: GatewayServer, demo: DemoServer,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    key = first_key(gateway)
    demo.fault("experiment/tags", "status", status=503)
    demo.fault("experiment/parameters", "reset")
    demo.fault("experiment/others", "garbage")
    demo.fault("experiment/git/metadata", "status", status=401)
    for secret in (demo.keys["alice"], "not-a-real-key-123456"):
        gateway.post(f'{{ experiment(key: "{key}") {{ tags parameters {{ name }} '
                     f'others {{ name }} git {{ branch }} }} }}', key=secret)
        gateway.http("GET", f"/download/asset?experimentKey={key}&assetId=x",
                     headers={"Authorization": secret})
    assert "retrying" in caplog.text  # the gateway did log
    for secret in (demo.keys["alice"], "not-a-real-key-123456"):
        assert secret not in caplog.text
    assert "Traceback" not in caplog.text
