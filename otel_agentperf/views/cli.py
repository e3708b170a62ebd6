"""``otel-agentperf``: command-line tools around an instrumented app's metrics."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from otel_agentperf.views import report, scrape
from otel_agentperf.views.insights import bottlenecks
from otel_agentperf.views.rows import ReportError

DEFAULT_URL = "http://localhost:9464/metrics"
_RENDERERS = {"table": report.render_table, "markdown": report.render_markdown, "json": report.render_json}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otel-agentperf", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    report_cmd = commands.add_parser("report", help="one-shot performance report from a /metrics scrape")
    source = report_cmd.add_mutually_exclusive_group()
    source.add_argument("--url", default=None, help=f"metrics endpoint to scrape (default {DEFAULT_URL})")
    source.add_argument("--file", type=Path, help="a saved scrape (Prometheus text format)")
    report_cmd.add_argument("--format", choices=sorted(_RENDERERS), default="table")
    top_cmd = commands.add_parser("top", help="live view of an app's operations (keys: s sort, f filter, q quit)")
    top_cmd.add_argument("--url", default=DEFAULT_URL, help=f"metrics endpoint to scrape (default {DEFAULT_URL})")
    top_cmd.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes (default 2)")
    top_cmd.add_argument("--frames", type=int, default=None, help="stop after this many frames")
    grafana_cmd = commands.add_parser(
        "grafana", help="write the Grafana dashboards, provisioning and Prometheus alert rules into a folder"
    )
    grafana_cmd.add_argument("folder", type=Path, help="where to write (created if missing)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "grafana":
        from otel_agentperf.stack import bundle

        for path in bundle.write(args.folder):
            print(path)
        return 0
    if args.command == "top":
        try:
            from otel_agentperf.views import top
        except ImportError as exc:
            print(f"otel-agentperf: top needs rich: pip install 'otel-agentperf[top]' ({exc})", file=sys.stderr)
            return 2
        try:
            return top.run(top.Scrape(args.url), args.interval, args.frames)
        except KeyboardInterrupt:
            return 0
    try:
        if args.file is not None:
            try:
                text = args.file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ReportError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
        else:
            text = scrape.fetch(args.url or DEFAULT_URL)
        rows = scrape.parse(text)
    except ReportError as exc:
        print(f"otel-agentperf: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("otel-agentperf: the scrape has no otel-agentperf metrics (is the app instrumented?)", file=sys.stderr)
        return 1
    print(_RENDERERS[args.format](rows, bottlenecks(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
