"""Builds the browser bundles into the package when a wheel or an sdist is made.

Each `web/<name>/` (GraphiQL, the dashboard page) is an npm project whose `build` script writes
`gateway/static/<name>/`. The wheel and the sdist carry those bundles as package data, so that a
plain `pip install` serves them with neither a CDN nor Node.js.

A bundle is rebuilt when it was not built from the sources beside it: each build leaves a stamp,
a hash of its npm project's files, and a partial or stale bundle has no matching stamp. An sdist
holds the sources, the bundles and their stamps, so installing it needs no npm. A checkout
without npm still installs, without the bundles (GraphiQL then comes from its CDN, and the
gateway says so when it starts), unless COMET_GATEWAY_REQUIRE_BUNDLES=1 makes that an error.
`make` runs the same build (`python setup.py build_bundles`); editable installs skip it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Command, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
STAMP = "BUILT_FROM"  # in each bundle's folder: the hash of the sources it was built from


def source_hash(project: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if path.is_file() and "node_modules" not in relative.parts:
            digest.update(f"{relative.as_posix()}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_bundles() -> None:
    for manifest in sorted((ROOT / "web").glob("*/package.json")):
        project = manifest.parent
        bundle = ROOT / "gateway" / "static" / project.name
        wanted = source_hash(project)
        stamp = bundle / STAMP
        if stamp.is_file() and stamp.read_text().strip() == wanted:
            continue
        npm = shutil.which("npm")
        if npm is None:
            message = (f"the {project.name} bundle is not built from web/{project.name}, and "
                       f"building it needs npm (Node.js 18 or newer) on PATH")
            if os.environ.get("COMET_GATEWAY_REQUIRE_BUNDLES") == "1":
                raise SystemExit(f"error: {message}.")
            print(f"warning: {message}: installing without it.", flush=True)
            continue
        print(f"building the {project.name} bundle with npm (web/{project.name})", flush=True)
        shutil.rmtree(bundle, ignore_errors=True)
        for step in (["ci", "--no-audit", "--no-fund", "--silent"], ["run", "--silent", "build"]):
            if subprocess.run([npm, *step], cwd=project).returncode != 0:
                raise SystemExit(f"error: `npm {step[0]}` failed in web/{project.name} (its "
                                 f"output is above): the {project.name} bundle is not built.")
        stamp.write_text(wanted + "\n")


class BuildBundles(Command):
    """`python setup.py build_bundles`: what `make` runs."""

    description = "build the browser bundles (web/<name> into gateway/static/<name>)"
    user_options: list[tuple[str, str | None, str]] = []

    def initialize_options(self) -> None:
        pass

    def finalize_options(self) -> None:
        pass

    def run(self) -> None:
        build_bundles()


class BuildPy(build_py):
    def run(self) -> None:
        if not self.editable_mode:
            build_bundles()
            # The package data's file list may have been made before the bundles were.
            self.__dict__.pop("data_files", None)
        super().run()


class SDist(sdist):
    def run(self) -> None:
        build_bundles()
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": SDist, "build_bundles": BuildBundles})
