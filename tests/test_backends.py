"""docs/backends.md, run as written: each backend's block against a local OTLP receiver, path and headers checked.

Only the backend's scheme, host and port are replaced (by the receiver's) and ``python app.py`` by a small
instrumented app; the variables, the path the exporter derives from them and the headers are the docs' own.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.otlp_receiver import http_receiver

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "backends.md"
APP = ROOT / "tests" / "apps" / "switches_app.py"
KEYS = {
    "LANGSMITH_API_KEY": "lsv2_pt_test",
    "LANGFUSE_PUBLIC_KEY": "pk-lf-test",
    "LANGFUSE_SECRET_KEY": "sk-lf-test",
    "PHOENIX_API_KEY": "phoenix-test-key",
    "OTLP_TOKEN": "collector-token",
}
# What each backend documents receiving: the paths, and the headers with their values.
EXPECTED = {
    "LangSmith": ({"/otel/v1/traces"}, {"x-api-key": "lsv2_pt_test", "langsmith-project": "my-agent"}),
    "Langfuse": (
        {"/api/public/otel/v1/traces"},
        {
            "authorization": "Basic " + base64.b64encode(b"pk-lf-test:sk-lf-test").decode(),
            "x-langfuse-ingestion-version": "4",
        },
    ),
    "Phoenix": ({"/v1/traces"}, {"authorization": "Bearer phoenix-test-key"}),
    "Any OTLP backend or Collector": ({"/v1/traces", "/v1/metrics"}, {"authorization": "Bearer collector-token"}),
}


def _blocks() -> dict[str, str]:
    """Each section's bash block, by the section's title."""
    found = {}
    for section in DOC.read_text().split("\n## ")[1:]:
        title, _, body = section.partition("\n")
        match = re.search(r"```bash\n(.*?)```", body, re.S)
        if match:
            found[title.strip()] = match.group(1)
    return found


def test_every_backend_section_has_a_block_and_an_expectation() -> None:
    assert set(_blocks()) == set(EXPECTED)


@pytest.mark.parametrize("backend", sorted(EXPECTED))
def test_the_documented_settings_reach_the_backend_with_its_path_and_headers(backend: str, tmp_path: Path) -> None:
    settings_file = tmp_path / "app_settings.yaml"
    settings_file.write_text("model: m1\n")
    with http_receiver() as (endpoint, received):
        block = re.sub(r'(OTEL_EXPORTER_OTLP_ENDPOINT=")https?://[^/"]+', rf"\g<1>{endpoint}", _blocks()[backend])
        assert endpoint in block
        block = block.replace("python app.py", f"{sys.executable} {APP} {settings_file}")
        env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
        env.update(KEYS, PYTHONPATH=str(APP.parent), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
        result = subprocess.run(["bash", "-c", block], env=env, capture_output=True, text=True, timeout=120)
        requests = list(received.http_requests)
        spans = {span.name for span in received.spans()}
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrapped: yaml.load,lookup\n"
    assert "Traceback" not in result.stderr and "Failed to export" not in result.stderr, result.stderr
    paths, headers = EXPECTED[backend]
    assert {path for path, _ in requests} == paths
    for _, sent in requests:
        assert {name: sent.get(name) for name in headers} == headers
    assert {"app-span", "execute_tool lookup", "load_config yaml.load"} <= spans
