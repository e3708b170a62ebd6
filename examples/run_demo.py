"""The main job: run the example app under ``opentelemetry-instrument`` and show what was recorded.

The app runs with the Prometheus exporter (``OTEL_METRICS_EXPORTER=prometheus``, endpoint on
localhost:9464 unless ``OTEL_EXPORTER_PROMETHEUS_PORT`` says otherwise) and is instrumented only by the
targets in ``research_assistant/agentperf.toml`` plus the library instrumentors (the OpenAI SDK, talking
to the local OpenAI-compatible server started here, and the settings file's TOML loads). Once it has
done its work, this script scrapes the
endpoint like Prometheus would, saves the scrape to ``demo-metrics.prom`` and prints the report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from local_llm import running

from otel_agentperf.views import report, scrape
from otel_agentperf.views.insights import bottlenecks
from otel_agentperf.views.rows import ReportError

HERE = Path(__file__).resolve().parent
SCRAPE_FILE = Path("demo-metrics.prom")


def main() -> int:
    with running() as llm_server:
        return demo(llm_server.base_url)


def demo(llm_base_url: str) -> int:
    port = os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "9464")
    launcher = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    if launcher is None:
        print("opentelemetry-instrument not found next to this Python: install the package first", file=sys.stderr)
        return 2
    env = {
        **os.environ,
        "OTEL_SERVICE_NAME": "research-assistant",
        "OTEL_METRICS_EXPORTER": "prometheus",
        "OTEL_EXPORTER_PROMETHEUS_PORT": port,
        "OTEL_TRACES_EXPORTER": os.environ.get("OTEL_TRACES_EXPORTER", "none"),
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_AGENTPERF_CONFIG": str(HERE / "research_assistant" / "agentperf.toml"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "OPENAI_BASE_URL": llm_base_url,
        "OPENAI_API_KEY": "local",
    }
    command = [launcher, sys.executable, "-m", "research_assistant", "--linger"]
    print("$ " + " ".join(["opentelemetry-instrument", "python", "-m", "research_assistant"]), flush=True)
    app = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert app.stdout is not None and app.stdin is not None
    try:
        for line in app.stdout:
            print(f"  app | {line.rstrip()}", flush=True)
            if line.strip() == "ready":
                break
        else:
            print("the example app stopped before it was ready", file=sys.stderr)
            return 1
        url = f"http://localhost:{port}/metrics"
        text = scrape.fetch(url)
    except ReportError as exc:
        print(f"otel-agentperf: {exc}", file=sys.stderr)
        return 1
    finally:
        app.stdin.close()
        app.wait(timeout=30)
    SCRAPE_FILE.write_text(text, encoding="utf-8")
    rows = scrape.parse(text)
    print(f"\nRecorded by otel-agentperf, scraped from {url} (saved to {SCRAPE_FILE}):\n")
    print(report.render_table(rows, bottlenecks(rows)))
    print(
        f"\nRaw series: grep gen_ai_ {SCRAPE_FILE}   Again as Markdown: "
        f"otel-agentperf report --file {SCRAPE_FILE} --format markdown"
    )
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
