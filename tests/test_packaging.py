"""What a release carries: the sdist and the wheel hold the browser bundles (built at build time
from web/<name>, so that a plain `pip install` serves them with no CDN and no Node.js), and the
lock files pin every dependency pyproject.toml declares, with hashes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.demo_server import free_port
from tests.gateway_server import wait_until_up

ROOT = Path(__file__).resolve().parents[1]
APPS = sorted(p.parent.name for p in (ROOT / "web").glob("*/package.json"))
NO_NPM = {**os.environ, "PATH": str(Path(sys.executable).parent)}


def checkout(into: Path) -> Path:
    """The project's files as a fresh clone has them (tracked, and new ones not ignored)."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    assert not (into / "gateway" / "static").exists()
    return into


def build(source: Path, kind: str, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[
        str]:
    return subprocess.run([sys.executable, "-m", "build", f"--{kind}", "--no-isolation",
                           "--outdir", str(out), str(source)],
                          capture_output=True, text=True, env=env, timeout=600)


def stamp_of(project: Path) -> str:
    """setup.py's stamp of an npm project's sources (setup.py is not importable from here)."""
    namespace: dict[str, object] = {"__file__": str(ROOT / "setup.py")}
    # Its functions only: the classes and the setup() call after them are left out.
    exec(compile((ROOT / "setup.py").read_text().split("\nclass ")[0], "setup.py", "exec"),
         namespace)
    source_hash = namespace["source_hash"]
    assert callable(source_hash)
    return str(source_hash(project))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A checkout, and the sdist built from it (which builds the bundles in the checkout)."""
    if shutil.which("npm") is None:
        pytest.fail("npm is needed to build the browser bundles (Node.js 18+)")
    source = checkout(tmp_path_factory.mktemp("checkout"))
    out = tmp_path_factory.mktemp("dist")
    made = build(source, "sdist", out, dict(os.environ))
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    return source, next(out.glob("*.tar.gz"))


def test_the_sdist_carries_the_bundles_and_their_sources_not_node_modules(
        built: tuple[Path, Path]) -> None:
    source, sdist = built
    assert APPS and "graphiql" in APPS
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
        root = archive.getnames()[0].split("/")[0]
        for app in APPS:
            assert f"web/{app}/package.json" in names and f"web/{app}/package-lock.json" in names
            assert any(n.startswith(f"gateway/static/{app}/") and n.endswith(".js")
                       for n in names)
            stamp = archive.extractfile(f"{root}/gateway/static/{app}/BUILT_FROM")
            assert stamp is not None
            assert stamp.read().decode().strip() == stamp_of(source / "web" / app)
    assert {"gateway/static/graphiql/graphiql.js", "gateway/static/graphiql/graphiql.css"} <= names
    assert not any("node_modules" in n or n.startswith("tests/") for n in names)
    assert "requirements/runtime.txt" in names


def test_a_wheel_built_from_the_sdist_needs_no_npm_and_serves_graphiql(
        built: tuple[Path, Path], tmp_path: Path) -> None:
    with tarfile.open(built[1]) as archive:
        archive.extractall(tmp_path / "sdist", filter="data")
    source = next((tmp_path / "sdist").iterdir())
    made = build(source, "wheel", tmp_path / "dist", {**NO_NPM,
                                                      "COMET_GATEWAY_REQUIRE_BUNDLES": "1"})
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for app in APPS:
            assert any(n.startswith(f"gateway/static/{app}/") and n.endswith(".js")
                       for n in names), app
        assert len(archive.read("gateway/static/graphiql/graphiql.js")) > 100_000
    assert not any(n.startswith(("tests/", "web/", "bench/")) for n in names)
    # Installed (on its own, beside this environment's dependencies) and served over HTTP.
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True, capture_output=True, timeout=300)
    port = free_port()
    env = {**NO_NPM, "PYTHONPATH": str(site), "COMET_GATEWAY_UPSTREAM_URL": "http://127.0.0.1:9"}
    with subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                          cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as server:
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz")
            url = f"http://127.0.0.1:{port}"
            page = urllib.request.urlopen(urllib.request.Request(
                f"{url}/graphql", headers={"Accept": "text/html"}), timeout=10).read().decode()
            assert "/graphiql/static/graphiql.js" in page and "cdn" not in page.lower()
            for name in ("graphiql.js", "graphiql.css"):
                with urllib.request.urlopen(f"{url}/graphiql/static/{name}", timeout=10) as got:
                    assert got.status == 200 and len(got.read()) > 1000
        finally:
            server.terminate()
            _, log = server.communicate(timeout=20)
    assert "bundle is not built" not in log and str(site) in subprocess.run(
        [sys.executable, "-c", "import gateway; print(gateway.__file__)"], env=env, cwd=tmp_path,
        capture_output=True, text=True, check=True).stdout


def test_a_bundle_older_than_its_sources_is_built_again(built: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    source = tmp_path / "checkout"
    shutil.copytree(built[0], source, ignore=shutil.ignore_patterns("node_modules"))
    entry = source / "web" / "graphiql" / "entry.js"
    entry.write_text(entry.read_text() + "\n// changed after the bundle was built\n")
    old = (source / "gateway" / "static" / "graphiql" / "BUILT_FROM").read_text().strip()
    made = build(source, "wheel", tmp_path / "dist", dict(os.environ))
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    with zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))) as wheel:
        stamp = wheel.read("gateway/static/graphiql/BUILT_FROM").decode().strip()
    assert stamp == stamp_of(source / "web" / "graphiql") != old


def test_building_from_a_checkout_without_npm_goes_on_without_the_bundles_or_refuses(
        tmp_path: Path) -> None:
    source = checkout(tmp_path / "checkout")
    made = build(source, "wheel", tmp_path / "dist", NO_NPM)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    assert "needs npm" in made.stdout + made.stderr
    with zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))) as wheel:
        assert not any(n.startswith("gateway/static/") for n in wheel.namelist())
    refused = build(source, "wheel", tmp_path / "refused",
                    {**NO_NPM, "COMET_GATEWAY_REQUIRE_BUNDLES": "1"})
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and f"error: the {APPS[0]} bundle is not built" in said


def locked(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text()
    entries = re.split(r"\n(?=\S)", text.strip())
    pins: dict[str, str] = {}
    for entry in entries:
        if entry.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", entry)
        assert match, entry[:80]
        assert "--hash=sha256:" in entry, f"{match[1]} has no hash"
        pins[canonicalize_name(match[1])] = match[2].rstrip(" \\;")
    return pins


def test_the_lock_files_pin_every_declared_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, dev = locked("runtime.txt"), locked("dev.txt")
    stale = []
    for lock, requirements in ((runtime, project["dependencies"]),
                               (dev, project["dependencies"] + project[
                                   "optional-dependencies"]["dev"])):
        for line in requirements:
            wanted = Requirement(line)
            pin = lock.get(canonicalize_name(wanted.name))
            if pin is None or not wanted.specifier.contains(pin, prereleases=True):
                stale.append(f"{line} (locked: {pin})")
    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    for line in build_system["requires"]:
        wanted = Requirement(line)
        pin = locked("build.txt").get(canonicalize_name(wanted.name))
        if pin is None or not wanted.specifier.contains(pin):
            stale.append(f"{line} (build.txt: {pin})")
    assert not stale, f"the lock files are stale (run `make lock`): {stale}"
    assert all(dev.get(name) == version for name, version in runtime.items()), \
        "runtime.txt and dev.txt disagree: run `make lock`"
