"""The command line, as a user runs it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from gateway.cli import _parser
from gateway.schema import sdl
from tests.demo_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def test_schema_prints_the_sdl() -> None:
    out = run("schema")
    assert out.returncode == 0 and out.stdout == sdl()
    assert out.stdout == (ROOT / "schema.graphql").read_text()


def test_demo_serves_graphiql_and_answers_with_the_printed_key() -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "gateway", "demo", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not any("Demo API key" in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        key = next(line for line in lines if "Demo API key" in line).split(": ")[1].split()[0]
        assert f"GraphiQL: http://127.0.0.1:{port}/graphql\n" in lines
        assert f"Dashboard: http://127.0.0.1:{port}/dashboard\n" in lines
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                                 headers={"Accept": "text/html"})
                with urllib.request.urlopen(request, timeout=5) as page:
                    html = page.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert key in html and "query Overview" in html
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard", timeout=5) as page:
            assert f'"apiKey": "{key}"' in page.read().decode()  # the demo's key, filled in
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql", method="POST",
            data=json.dumps({"query": "{ viewer { userName } }"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": key})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read()) == {"data": {"viewer": {"userName": "alice"}}}
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()


def test_demo_on_a_busy_port_says_so_before_printing_a_url() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run("demo", "--port", str(port))
    assert out.returncode != 0
    assert "GraphiQL" not in out.stdout and "Demo API key" not in out.stdout
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "--port" in out.stderr
    assert "Traceback" not in out.stderr


def test_every_command_line_option_says_what_it_is() -> None:
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {'/'.join(action.option_strings)}"
               for name, command in commands.choices.items() for action in command._actions
               if action.option_strings and not action.help]
    assert missing == []


def test_bad_settings_fail_with_a_clear_message() -> None:
    out = subprocess.run([sys.executable, "-c", "from gateway.settings import Settings; "
                          "Settings.from_env()"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COMET_GATEWAY_TIMEOUT": "soon",
                              "COMET_API_KEY": "s3cret-key"})
    assert out.returncode != 0 and "COMET_GATEWAY_TIMEOUT: invalid value 'soon'" in out.stderr
    assert "s3cret-key" not in out.stderr
