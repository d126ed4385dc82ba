"""Builds the browser bundles into the package when a wheel or an sdist is made.

Each `web/<name>/` (GraphiQL, the dashboard page) is an npm project whose `build` script writes
`gateway/static/<name>/`. The wheel and the sdist carry those bundles as package data, so that a
plain `pip install` serves them with neither a CDN nor Node.js. Only a build from a checkout
without the bundles needs npm, once; an sdist already holds them. Editable installs skip this:
`make` builds the bundles, and rebuilds them when their sources change.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent


def build_bundles() -> None:
    for manifest in sorted((ROOT / "web").glob("*/package.json")):
        source = manifest.parent
        bundle = ROOT / "gateway" / "static" / source.name
        if bundle.is_dir() and any(bundle.iterdir()):
            continue
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit(
                f"The {source.name} bundle is not built, and building it needs npm (Node.js 18 "
                f"or newer) on PATH. Install Node.js, or install from an sdist or a wheel, "
                f"which carry the bundles.")
        print(f"building the {source.name} bundle with npm (web/{source.name})", flush=True)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=source, check=True)
        subprocess.run([npm, "run", "--silent", "build"], cwd=source, check=True)


class BuildPy(build_py):
    def run(self) -> None:
        if not self.editable_mode:
            build_bundles()
            # package_data was globbed before the bundles existed: look again.
            self.data_files = self._get_data_files()
        super().run()


class SDist(sdist):
    def run(self) -> None:
        build_bundles()
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": SDist})
