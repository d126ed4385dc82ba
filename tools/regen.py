"""Regenerate what is generated from the code: schema.graphql and the settings tables.

Run `make regen` after changing the schema or the settings; the tests fail until you do.
"""

from __future__ import annotations

from pathlib import Path

from gateway.schema import sdl
from gateway.settings import Settings
from tools import openapi

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- settings:begin", "<!-- settings:end -->"


TABLES = ("README.md", "docs/configuration.md")


def main() -> None:
    (ROOT / "schema.graphql").write_text(sdl())
    openapi.main()
    table = Settings.markdown_table()
    for name in TABLES:
        text = (ROOT / name).read_text()
        head, rest = text.split(BEGIN, 1)
        marker, rest = rest.split("-->", 1)
        _, tail = rest.split(END, 1)
        (ROOT / name).write_text(f"{head}{BEGIN}{marker}-->\n{table}{END}{tail}")


if __name__ == "__main__":
    main()
