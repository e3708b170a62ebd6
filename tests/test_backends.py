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

from tests.doc_blocks import block
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
# What each backend documents receiving: the paths, and the headers with their values (by block ID).
EXPECTED = {
    "backend-langsmith": ({"/otel/v1/traces"}, {"x-api-key": "lsv2_pt_test", "langsmith-project": "my-agent"}),
    "backend-langfuse": (
        {"/api/public/otel/v1/traces"},
        {
            "authorization": "Basic " + base64.b64encode(b"pk-lf-test:sk-lf-test").decode(),
            "x-langfuse-ingestion-version": "4",
        },
    ),
    "backend-phoenix": ({"/v1/traces"}, {"authorization": "Bearer phoenix-test-key"}),
    "backend-otlp": ({"/v1/traces", "/v1/metrics"}, {"authorization": "Bearer collector-token"}),
}


# The blocks by ID, each asked for by name (tests/doc_blocks.py): each section's one block.
BLOCKS = {
    "backend-langsmith": block("backend-langsmith"),
    "backend-langfuse": block("backend-langfuse"),
    "backend-phoenix": block("backend-phoenix"),
    "backend-otlp": block("backend-otlp"),
}


def test_every_backend_section_has_a_block_with_an_expectation() -> None:
    sections = [line for line in DOC.read_text().splitlines() if line.startswith("## ")]
    assert len(sections) == len(BLOCKS) == len(EXPECTED)
    assert all(found.path == DOC and found.language == "bash" for found in BLOCKS.values())


@pytest.mark.parametrize("backend", sorted(EXPECTED))
def test_the_documented_settings_reach_the_backend_with_its_path_and_headers(backend: str, tmp_path: Path) -> None:
    settings_file = tmp_path / "app_settings.yaml"
    settings_file.write_text("model: m1\n")
    with http_receiver() as (endpoint, received):
        script = re.sub(r'(OTEL_EXPORTER_OTLP_ENDPOINT=")https?://[^/"]+', rf"\g<1>{endpoint}", BLOCKS[backend].text)
        assert endpoint in script
        script = script.replace("python app.py", f"{sys.executable} {APP} {settings_file}")
        env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
        env.update(KEYS, PYTHONPATH=str(APP.parent), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
        result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
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
