"""``otel-agentperf``: command-line tools around an instrumented app's telemetry."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from otel_agentperf.views import gate, gate_output, prometheus_http, prometheus_window, report, sources
from otel_agentperf.views.families import significant
from otel_agentperf.views.insights import bottlenecks
from otel_agentperf.views.rows import ReportError
from otel_agentperf.views.sources import Source

DEFAULT_URL = "http://localhost:9464/metrics"
DESCRIPTION = (
    "Performance reports, trace waterfalls, a live view and Grafana files from an instrumented AI-agent app's "
    "OpenTelemetry telemetry."
)
BROKEN_PIPE = 128 + 13  # the status of a shell tool killed by SIGPIPE, when the reader of stdout went away
_RENDERERS = {"table": report.render_table, "markdown": report.render_markdown, "json": report.render_json}


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An option's type: a number above 0, else argparse's one-line usage error naming the option."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
        return value

    return parse


def _count(text: str) -> int:
    """An option's type: a whole number of 0 or more, else argparse's one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


_FILE_HELP = "a run --save file, a saved scrape (Prometheus text format) or a report --format json output"
_PROMETHEUS_HELP = "a Prometheus server's base URL: read its window (--range, --end), summed across replicas"


def _prometheus_options(command: argparse.ArgumentParser, default_range: str, end: bool = True) -> None:
    """The options of a command that can read a Prometheus server: the window, and how to reach the server."""
    group = command.add_argument_group("with --prometheus URL")
    group.add_argument(
        "--range",
        default=default_range,
        metavar="DURATION",
        help=f"the window's length, a Prometheus duration such as 10m, 1h, 1d (default {default_range})",
    )
    if end:
        group.add_argument(
            "--end", default="now", metavar="TIME", help="the window's end: now (default), unix seconds or RFC 3339"
        )
    group.add_argument(
        "--match", metavar="SELECTOR", help="a label selector added to every query, such as '{namespace=\"prod\"}'"
    )
    group.add_argument("--bearer-token-file", type=Path, metavar="FILE", help="send the token in FILE as a bearer")
    group.add_argument("--username", metavar="USER", help="basic auth user (the password from --password-file)")
    group.add_argument("--password-file", type=Path, metavar="FILE", help="basic auth password, read from FILE")
    group.add_argument("--header", action="append", metavar="'NAME: VALUE'", help="an extra HTTP header (repeatable)")
    group.add_argument("--ca-file", type=Path, metavar="FILE", help="trust the CA certificates in FILE (https)")
    group.add_argument(
        "--timeout", type=_positive(float), default=30.0, metavar="S", help="seconds per query (default 30)"
    )


def _check_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check_cmd = commands.add_parser(
        "check",
        help="the CI gate: check a run against performance budgets and a baseline",
        description="Checks a run's figures (from the same rows report prints) against the budgets in\n"
        "[tool.otel-agentperf.budgets] of the nearest pyproject.toml (or --budgets FILE) and against a\n"
        "baseline with the allowances of its allow table. Names every broken budget.\n"
        f"Exit status: 0 when every budget holds, {gate.BROKEN} when any is broken, "
        f"{gate.UNUSABLE} when the input, the budgets\nor the baseline cannot be used.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = check_cmd.add_mutually_exclusive_group()
    source.add_argument("--url", default=None, help=f"metrics endpoint to scrape (default {DEFAULT_URL})")
    source.add_argument("--file", type=Path, help=_FILE_HELP)
    source.add_argument("--prometheus", metavar="URL", help=_PROMETHEUS_HELP)
    check_cmd.add_argument(
        "--budgets", type=Path, metavar="FILE", help="TOML budgets (default: the nearest pyproject.toml's)"
    )
    check_cmd.add_argument("--baseline", type=Path, metavar="FILE", help="the run to compare with: " + _FILE_HELP)
    check_cmd.add_argument("--format", choices=sorted(gate_output.RENDERERS), default="table")
    check_cmd.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML test report to FILE")
    _prometheus_options(check_cmd, "1h")


def _parser() -> argparse.ArgumentParser:
    from otel_agentperf.stack import bundle
    from otel_agentperf.version import __version__
    from otel_agentperf.views.run import SETS

    # Help is plain text, not the module docstring: docstrings are reStructuredText (``literal``).
    parser = argparse.ArgumentParser(prog="otel-agentperf", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"otel-agentperf {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser(
        "run",
        help="run a command under opentelemetry-instrument; when it exits: the report and its slowest traces",
        usage="otel-agentperf run [--save FILE] [--html FILE] [--repeat N] [--live] [--interval S] [--slowest N] "
        "[--budgets FILE] [--baseline FILE] -- COMMAND [ARGS...]",
        description="Runs COMMAND under the opentelemetry-instrument launcher, receives its traces and metrics\n"
        "over OTLP/HTTP on loopback and, when it exits (Ctrl-C stops it), prints the report and the\n"
        "slowest traces as waterfalls. Exits with COMMAND's status. With --budgets or --baseline it then\n"
        f"checks them as check does: COMMAND's status when not 0, else {gate.BROKEN} when a budget is broken.",
        epilog=f"run sets in COMMAND's environment:\n{SETS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_cmd.add_argument(
        "--save", type=Path, metavar="FILE", help="keep what was received in FILE (read by report/traces --file)"
    )
    run_cmd.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the report and the --slowest traces as one self-contained HTML file (opens offline)",
    )
    run_cmd.add_argument(
        "--repeat",
        type=_positive(int),
        default=1,
        metavar="N",
        help="run COMMAND N times into one report and saved run, each run's telemetry marked with the resource "
        "attribute agentperf.run.index (1 to N); exits with the first failing run's status (default 1)",
    )
    run_cmd.add_argument("--live", action="store_true", help="show the top view while COMMAND runs")
    run_cmd.add_argument(
        "--interval", type=_positive(float), default=2.0, metavar="S", help="seconds between live refreshes (2)"
    )
    run_cmd.add_argument(
        "--slowest", type=_count, default=3, metavar="N", help="how many traces to draw (default 3; 0: none)"
    )
    run_cmd.add_argument(
        "--budgets", type=Path, metavar="FILE", help="after the report, check the budgets of FILE (see check)"
    )
    run_cmd.add_argument(
        "--baseline", type=Path, metavar="FILE", help="after the report, check against this baseline (see check)"
    )
    run_cmd.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND", help="the command to run, after --")
    report_cmd = commands.add_parser("report", help="one-shot performance report from a /metrics scrape or saved run")
    source = report_cmd.add_mutually_exclusive_group()
    source.add_argument("--url", default=None, help=f"metrics endpoint to scrape (default {DEFAULT_URL})")
    source.add_argument("--file", type=Path, help=_FILE_HELP)
    source.add_argument("--prometheus", metavar="URL", help=_PROMETHEUS_HELP)
    report_cmd.add_argument(
        "--format",
        choices=[*sorted(_RENDERERS), "html"],
        default="table",
        help="html: one self-contained file (with a saved run's slowest traces and retries), to redirect into a file",
    )
    _prometheus_options(report_cmd, "1h")
    _check_parser(commands)
    compare_cmd = commands.add_parser(
        "compare",
        help="what changed between two runs per request, and why: causes that add up to the change",
        description="Compares two runs (saved runs or report --format json files) per root: the change in\n"
        "latency split into causes along the requests' critical path (with the residual), the per-request\n"
        "counts and the cost by model; a timing change is judged by a Mann-Whitney U test at --alpha.\n"
        "Exit status 0 (informational: the gate is check), 2 when an input cannot be used.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare_cmd.add_argument("base", type=Path, nargs="?", metavar="BASE", help="the run before: " + _FILE_HELP)
    compare_cmd.add_argument("new", type=Path, nargs="?", metavar="NEW", help="the run after, of the same kind of file")
    compare_cmd.add_argument(
        "--prometheus", metavar="URL", help="compare two windows of this Prometheus server instead of two files"
    )
    compare_cmd.add_argument(
        "--base-end", metavar="TIME", help="with --prometheus: the end of the window before (unix seconds, RFC 3339)"
    )
    compare_cmd.add_argument(
        "--new-end", default="now", metavar="TIME", help="with --prometheus: the end of the window after (default now)"
    )
    compare_cmd.add_argument("--format", choices=["table", "markdown", "json", "html"], default="table")
    compare_cmd.add_argument(
        "--alpha", type=_positive(float), default=0.01, help="significance level of the test (default 0.01)"
    )
    _prometheus_options(compare_cmd, "1h", end=False)
    traces_cmd = commands.add_parser("traces", help="the slowest traces of a run --save file, as waterfalls")
    traces_cmd.add_argument("--file", type=Path, required=True, help="a file saved by otel-agentperf run --save")
    traces_cmd.add_argument(
        "--slowest", type=_positive(int), default=3, metavar="N", help="how many traces to draw (default 3)"
    )
    top_cmd = commands.add_parser("top", help="live view of an app's operations (keys: s sort, f filter, q quit)")
    top_source = top_cmd.add_mutually_exclusive_group()
    top_source.add_argument("--url", default=DEFAULT_URL, help=f"metrics endpoint to scrape (default {DEFAULT_URL})")
    top_source.add_argument(
        "--prometheus",
        metavar="URL",
        help="a Prometheus server's base URL: the first frame is its last --range, then each refresh's window",
    )
    top_cmd.add_argument("--interval", type=_positive(float), default=2.0, help="seconds between refreshes")
    top_cmd.add_argument("--frames", type=int, default=None, help="stop after this many frames")
    _prometheus_options(top_cmd, "5m", end=False)
    grafana_cmd = commands.add_parser(
        "grafana",
        help="write the Grafana dashboards, provisioning and Prometheus alert rules into a folder",
        description="Writes the dashboards, Grafana's datasource and dashboard provisioning and the Prometheus\n"
        "alert rules into FOLDER. The defaults of the options are the docker-compose stack's:\n"
        "its service names and the folder it mounts the dashboards at.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grafana_cmd.add_argument("folder", type=Path, metavar="FOLDER", help="where to write (created if missing)")
    grafana_cmd.add_argument(
        "--prometheus-url",
        default=bundle.PROMETHEUS_URL,
        help=f"Prometheus as Grafana reaches it (default {bundle.PROMETHEUS_URL})",
    )
    grafana_cmd.add_argument(
        "--tempo-url", default=bundle.TEMPO_URL, help=f"Tempo as Grafana reaches it (default {bundle.TEMPO_URL})"
    )
    grafana_cmd.add_argument(
        "--dashboards-path",
        default=bundle.GRAFANA_DASHBOARDS_PATH,
        help="where Grafana sees FOLDER's dashboards/ folder, for the dashboard provisioning "
        f"(default {bundle.GRAFANA_DASHBOARDS_PATH})",
    )
    kubernetes_cmd = commands.add_parser(
        "kubernetes",
        help="write the scale-out recipe's generated files: recording rules and the dashboards' ConfigMap",
        description="Writes the Prometheus recording rules that aggregate across replicas and a ConfigMap of\n"
        "the Grafana dashboards for Grafana's dashboard sidecar into FOLDER (docs/replicas.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kubernetes_cmd.add_argument("folder", type=Path, metavar="FOLDER", help="where to write (created if missing)")
    kubernetes_cmd.add_argument(
        "--namespace", default="observability", help="the ConfigMap's namespace, Grafana's (default observability)"
    )
    return parser


def _window(args: argparse.Namespace, end: str | None, fixed_start: bool = False) -> prometheus_window.Window:
    """The window of ``--prometheus`` that ends at ``end`` (now: None), or for ``top`` one that starts
    ``--range`` before now and grows; raises :class:`ReportError` for an option that cannot be used."""
    server = prometheus_http.connect(
        args.prometheus,
        bearer_token_file=args.bearer_token_file,
        username=args.username,
        password_file=args.password_file,
        headers=args.header,
        ca_file=args.ca_file,
        timeout=args.timeout,
    )
    seconds = prometheus_window.duration(args.range)
    match = prometheus_window.matchers(args.match)
    if fixed_start:
        return prometheus_window.Window(server, seconds, match=match, start=time.time() - seconds)
    at = None if end in (None, "now") else prometheus_window.instant(end)
    return prometheus_window.Window(server, seconds, at, match)


def _source(args: argparse.Namespace) -> Source:
    """The report's (or the gate's) input: a saved run, a saved scrape or report JSON, a window of a Prometheus
    server, or a scrape of the URL."""
    if args.prometheus is not None:
        return sources.from_prometheus(_window(args, args.end))
    if args.file is None:
        return sources.from_url(args.url or DEFAULT_URL)
    if args.command == "report" and args.format == "html":  # the page draws a saved run's traces too
        from otel_agentperf.views import html_report

        return sources.from_file(args.file, slowest=html_report.TRACES)
    return sources.from_file(args.file)


def _traces(args: argparse.Namespace) -> int:
    from otel_agentperf.views import waterfall

    try:
        loaded = sources.from_file(args.file, slowest=args.slowest).received
    except ReportError as exc:
        print(f"otel-agentperf: {exc}", file=sys.stderr)
        return 2
    if loaded is None:
        print(f"otel-agentperf: {args.file}: not a saved run (otel-agentperf run --save FILE)", file=sys.stderr)
        return 2
    print(waterfall.render(loaded.trace_requests(), args.slowest, loaded.trace_count()))
    return 0


def _grafana(args: argparse.Namespace) -> int:
    from otel_agentperf.stack import bundle

    places = {"prometheus_url": args.prometheus_url, "tempo_url": args.tempo_url}
    return _write_into(args.folder, lambda: bundle.write(args.folder, dashboards_path=args.dashboards_path, **places))


def _kubernetes(args: argparse.Namespace) -> int:
    from otel_agentperf.stack import kubernetes

    return _write_into(args.folder, lambda: kubernetes.write(args.folder, args.namespace))


def _write_into(folder: Path, write: Callable[[], list[Path]]) -> int:
    """Run ``write`` into ``folder`` and list what it wrote; a folder that cannot be written is one line."""
    if folder.exists() and not folder.is_dir():
        print(
            f"otel-agentperf: {folder} is a file: give a folder to write into (created if missing)",
            file=sys.stderr,
        )
        return 2
    try:
        written = write()
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(folder) else ""
        print(
            f"otel-agentperf: cannot write into {folder}{where}: {exc.strerror or exc}; "
            "give a folder you can write to (created if missing)",
            file=sys.stderr,
        )
        return 2
    for path in written:
        print(path)
    return 0


def _check(args: argparse.Namespace) -> int:
    """``check``: the verdict in the chosen format, the JUnit report if asked; :data:`gate.BROKEN` if any
    budget is broken, :data:`gate.UNUSABLE` (one line on stderr) if something cannot be used."""
    try:
        checker = gate.load(args.budgets, args.baseline, Path.cwd())
        source = _source(args)
        checks = checker.judge(source)
        status = gate.status(checks, source)
    except (gate.GateError, ReportError) as exc:
        print(f"otel-agentperf: {exc}", file=sys.stderr)
        return gate.UNUSABLE
    if args.junit is not None:
        try:
            gate_output.write_junit(checks, args.junit)
        except OSError as exc:
            print(f"otel-agentperf: cannot write {args.junit}: {exc.strerror or exc}", file=sys.stderr)
            return gate.UNUSABLE
    print(gate_output.RENDERERS[args.format](checks))
    return status


def _compare(args: argparse.Namespace) -> int:
    """``compare``: always 0 once both inputs are read (the gate is ``check``); 2, with one line, if not."""
    from otel_agentperf.views import compare, compare_output

    try:
        if args.prometheus is not None:
            if args.base is not None or args.base_end is None:
                raise ReportError("with --prometheus, give --base-end TIME (and --new-end, default now), not files")
            windows = [sources.from_prometheus(_window(args, end)) for end in (args.base_end, args.new_end)]
            sides = [
                compare.Side(f"{name}: {window.label}", window.rows)
                for name, window in zip(("base", "new"), windows, strict=True)
            ]
        elif args.base is None or args.new is None:
            raise ReportError("compare needs BASE and NEW files, or --prometheus URL --base-end TIME")
        else:
            sides = [compare.load(path) for path in (args.base, args.new)]
    except ReportError as exc:
        print(f"otel-agentperf: {exc}", file=sys.stderr)
        return 2
    if not all(side.rows for side in sides):
        empty = next(side.label for side in sides if not side.rows)
        print(f"otel-agentperf: {empty} has no otel-agentperf metrics to compare", file=sys.stderr)
        return 2
    comparison = compare.compare(sides[0], sides[1], alpha=args.alpha)
    if args.format == "html":
        from otel_agentperf.views import html_report

        print(html_report.render_compare(comparison))
    else:
        print(compare_output.RENDERERS[args.format](comparison))
    return 0


def _run(args: argparse.Namespace) -> int:
    from otel_agentperf.views import run

    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    try:
        checker = None
        if args.budgets is not None or args.baseline is not None:
            checker = gate.load(args.budgets, args.baseline, Path.cwd())
        return run.run(command, args.save, args.live, args.interval, args.slowest, checker, int(args.repeat), args.html)
    except gate.GateError as exc:  # before COMMAND starts: a gate that cannot judge it is not worth the run
        print(f"otel-agentperf: {exc}", file=sys.stderr)
        return gate.UNUSABLE
    except run.RunError as exc:
        print(f"otel-agentperf: {exc}", file=sys.stderr)
        return 127 if str(exc).startswith("command not found") else 2


def main(argv: list[str] | None = None) -> int:
    """The command; a reader that went away (``report | head``) ends it quietly, as it would a shell tool."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a pipe closed early fails here, not in the interpreter's own flush at exit
    except BrokenPipeError:
        # Nothing more can be written: point stdout at /dev/null so the interpreter's final flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE
    return code


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "traces":
        return _traces(args)
    if args.command == "grafana":
        return _grafana(args)
    if args.command == "kubernetes":
        return _kubernetes(args)
    if args.command == "top":
        try:
            from otel_agentperf.views import top
        except ImportError as exc:
            print(f"otel-agentperf: top needs rich: pip install 'otel-agentperf[top]' ({exc})", file=sys.stderr)
            return 2
        try:
            live: top.Source = top.Scrape(args.url)
            if args.prometheus is not None:
                live = _window(args, None, fixed_start=True)
        except ReportError as exc:
            print(f"otel-agentperf: {exc}", file=sys.stderr)
            return 2
        try:
            return top.run(live, args.interval, args.frames)
        except KeyboardInterrupt:
            return 0
    if args.command == "check":
        return _check(args)
    if args.command == "compare":
        return _compare(args)
    try:
        source = _source(args)
        rows = significant(source.rows)
    except ReportError as exc:
        print(f"otel-agentperf: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("otel-agentperf: the scrape has no otel-agentperf metrics (is the app instrumented?)", file=sys.stderr)
        return 1
    if args.format == "html":
        from otel_agentperf.views import html_report

        got = source.received
        traces = got.trace_requests() if got is not None else None
        print(html_report.render(rows, bottlenecks(rows), traces, seen=got.trace_count() if got is not None else None))
        return 0
    print(_RENDERERS[args.format](rows, bottlenecks(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
