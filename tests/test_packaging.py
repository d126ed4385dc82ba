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
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("npm") is None:
        pytest.fail("npm is needed to build the browser bundles (Node.js 18+)")
    source = checkout(tmp_path_factory.mktemp("checkout"))
    out = tmp_path_factory.mktemp("dist")
    made = build(source, "sdist", out, dict(os.environ))
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    return next(out.glob("*.tar.gz"))


def test_the_sdist_carries_the_bundles_and_their_sources_not_node_modules(sdist: Path) -> None:
    assert APPS and "graphiql" in APPS
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for app in APPS:
        assert f"web/{app}/package.json" in names and f"web/{app}/package-lock.json" in names
        assert any(n.startswith(f"gateway/static/{app}/") and n.endswith(".js") for n in names)
    assert "gateway/static/graphiql/graphiql.js" in names
    assert not any("node_modules" in n for n in names)
    assert "requirements/runtime.txt" in names


def test_a_wheel_built_from_the_sdist_needs_no_npm_and_holds_the_bundles(
        sdist: Path, tmp_path: Path) -> None:
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    source = next(p for p in tmp_path.iterdir() if p.is_dir())
    made = build(source, "wheel", tmp_path / "dist", NO_NPM)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    with zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))) as wheel:
        names = set(wheel.namelist())
        for app in APPS:
            assert any(n.startswith(f"gateway/static/{app}/") and n.endswith(".js")
                       for n in names), app
        assert len(wheel.read("gateway/static/graphiql/graphiql.js")) > 100_000
    assert not any(n.startswith(("tests/", "web/", "bench/")) for n in names)


def test_building_from_a_checkout_without_npm_says_what_is_missing(tmp_path: Path) -> None:
    source = checkout(tmp_path / "checkout")
    made = build(source, "wheel", tmp_path / "dist", NO_NPM)
    assert made.returncode != 0
    assert "needs npm" in made.stdout + made.stderr
    assert "Traceback" not in made.stderr.split("needs npm")[0][-300:]


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
    assert not stale, f"the lock files are stale (run `make lock`): {stale}"
    assert all(dev.get(name) == version for name, version in runtime.items()), \
        "runtime.txt and dev.txt disagree: run `make lock`"
