"""The deployment files agree with the code: routes, ports, probes, environment names.
(No Docker engine or cluster runs here; what can be checked without one is checked.)"""

from __future__ import annotations

import re
import subprocess
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

from gateway.app import create_app
from gateway.settings import SETTINGS, Settings
from tests.demo_server import DemoServer
from tests.gateway_server import start

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
KNOWN_ENV = {s.env for s in SETTINGS}


def routes() -> set[str]:
    return {getattr(r, "path", "") for r in create_app(Settings()).routes}


def manifests() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((DOCKER / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            out[doc["kind"]] = doc
    return out


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert re.search(r"^USER gateway$", text, re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text and "/healthz" in routes()
    assert 'CMD ["comet-gateway", "serve"]' in text
    env = set(re.findall(r"(COMET_[A-Z_]+)=", text))
    assert env and env <= KNOWN_ENV


def in_build_context(path: str) -> bool:
    """Whether docker sends `path` (relative to the root) with the build context, as
    .dockerignore says: the last pattern that matches the path or one of its parents wins."""
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    sent = True
    for rule in rules:
        keep = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        if any(fnmatch(prefix, pattern) or (pattern.startswith("**/") and (
                fnmatch(prefix, pattern[3:]) or fnmatch(prefix, pattern))) for prefix in prefixes):
            sent = keep
    return sent


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_big() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    copied = [src for line in re.findall(r"^COPY (?!--from)(.+)$",
                                         (DOCKER / "Dockerfile").read_text(), re.M)
              for src in line.split()[:-1]]
    assert copied
    for source in copied:
        files = [f for f in tracked if f == source or f.startswith(source.rstrip("/") + "/")]
        assert files and all(in_build_context(f) for f in files), source
    for heavy in (".venv/bin/python", "tests/js/node_modules/x/index.js", ".git/HEAD",
                  "web/graphiql/node_modules/graphiql/index.js", "bench/mesh/node_modules/a",
                  "gateway/__pycache__/app.cpython-311.pyc", "gateway/static/graphiql/x.js",
                  "web/dashboard/node_modules/uplot/package.json",
                  "gateway/static/dashboard/dashboard.js",
                  "tests/conftest.py", ".mypy_cache/x.json"):
        assert not in_build_context(heavy), heavy


def test_compose_has_two_gateways_behind_nginx_with_redis() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert {"gateway-1", "gateway-2", "nginx", "redis", "demo-upstream"} <= set(services)
    for name in ("gateway-1", "gateway-2"):
        env = services[name]["environment"]
        assert set(env) <= KNOWN_ENV
        assert env["COMET_GATEWAY_REDIS_URL"].startswith("redis://redis:")
    nginx = (DOCKER / "nginx.conf").read_text()
    port = Settings.from_env({"COMET_GATEWAY_PORT": "8000"}).port
    assert f"server gateway-1:{port};" in nginx and f"server gateway-2:{port};" in nginx
    assert "Upgrade" in nginx  # websockets for live metrics


def test_compose_builds_one_image_once_and_routes_only_to_healthy_gateways() -> None:
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    builders = [name for name, s in services.items() if "build" in s]
    assert len(builders) == 1, builders
    image = services[builders[0]]["image"]
    users = [name for name, s in services.items() if s.get("image") == image]
    assert {"gateway-1", "gateway-2", "demo-upstream"} <= set(users)
    for name in set(users) - set(builders):
        # Never pulled (the tag exists nowhere but here) and never built a second time.
        assert services[name].get("pull_policy") == "never" and "build" not in services[name]
    port = Settings.from_env({"COMET_GATEWAY_PORT": "8000"}).port
    for name in ("gateway-1", "gateway-2"):
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in probe
        assert services["nginx"]["depends_on"][name] == {"condition": "service_healthy"}
        for dependency in services[name]["depends_on"].values():
            assert dependency == {"condition": "service_healthy"}


def test_the_compose_demos_graphiql_holds_a_key_that_works(demo_session: DemoServer) -> None:
    env = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]["gateway-1"][
        "environment"]
    key = env["COMET_GATEWAY_GRAPHIQL_API_KEY"]
    settings = Settings.from_env({"COMET_GATEWAY_GRAPHIQL_API_KEY": key},
                                 upstream_url=demo_session.url)
    server = start(settings, default_key=None)
    try:
        page = server.http("GET", "/graphql", headers={"Accept": "text/html"}).body.decode()
        assert key in page
        answer = server.post("{ viewer { userName } }", key=key)
        assert answer == {"data": {"viewer": {"userName": "alice"}}}
    finally:
        server.stop()


def test_kubernetes_manifests_agree_with_the_code() -> None:
    found = manifests()
    assert set(found) == {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"}
    config = found["ConfigMap"]["data"]
    assert set(config) <= KNOWN_ENV
    Settings.from_env(config)  # every value parses
    container = found["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    port = container["ports"][0]
    assert port["containerPort"] == int(config["COMET_GATEWAY_PORT"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/readyz", "/healthz", "/metrics", "/graphql"} <= routes()
    assert container["envFrom"][0]["configMapRef"]["name"] == found["ConfigMap"]["metadata"][
        "name"]
    service = found["Service"]["spec"]
    assert service["ports"][0]["targetPort"] == port["name"]
    assert service["selector"] == found["Deployment"]["spec"]["selector"]["matchLabels"]
    assert found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == \
        found["Deployment"]["metadata"]["name"]
    assert found["Deployment"]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]


def test_the_deployments_answer_the_host_names_they_are_reached_by() -> None:
    dockerfile = dict(re.findall(r"(COMET_[A-Z_]+)=(\S+)", (DOCKER / "Dockerfile").read_text()))
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    gateway = Settings.from_env({**dockerfile, **compose["services"]["gateway-1"]["environment"]})
    assert gateway.host == "0.0.0.0"  # bound to every address, yet not answering every host
    hosts = gateway.hosts()
    assert hosts.allows("127.0.0.1") and hosts.allows("localhost")
    assert not hosts.allows("attacker.example")
    assert Settings.from_env(manifests()["ConfigMap"]["data"]).hosts().any_host
