"""``otel-agentperf run -- COMMAND``: run an app under the launcher, receive its telemetry, report when it exits.

COMMAND runs under the stock ``opentelemetry-instrument`` launcher (so the package's instrumentors and
targets apply as in production) with its traces and metrics sent over OTLP/HTTP to a receiver in this
process on loopback. When it exits (by itself, or by Ctrl-C, which reaches it as it would without ``run``)
this prints the report ``otel-agentperf report`` prints and a waterfall of the slowest traces, and exits
with COMMAND's status. The app's stdin, stdout and stderr are its own, untouched. With ``--live`` the
terminal's keys go to the live view (the app's stdin is ``/dev/null``) and the app's output is printed
line by line above the view, which would otherwise draw over it.

``--repeat N`` runs COMMAND N times, one after the other, into one receiver (so one report and one saved
run cover them all), and exits with the first failing run's status (0 when all succeeded): the status of
one run of a script, and what a CI step that loops over the runs with ``set -e`` would stop at. A
Ctrl-C or SIGTERM ends the run it reaches and the ones after it. Each run is marked by the resource
attribute ``agentperf.run.index`` (1 to N), appended to the user's own ``OTEL_RESOURCE_ATTRIBUTES``,
rather than by a marker record in the saved run: every process of the run (forked workers and what it
leaves behind included) stamps its own exports, so a late export is never put in the next run by its
arrival, the saved-run format stays as it was (older files and any OTLP tool read it), and a collector or
Tempo shows the mark too. ``Received.runs`` splits what was received by it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, BinaryIO, TextIO

from otel_agentperf.conventions import names
from otel_agentperf.receiving.received import Received
from otel_agentperf.receiving.receiver import Receiver
from otel_agentperf.views import gate, gate_output, otlp, report, waterfall
from otel_agentperf.views.families import significant
from otel_agentperf.views.gate import Gate
from otel_agentperf.views.insights import bottlenecks
from otel_agentperf.views.rows import Row
from otel_agentperf.views.sources import Source, from_received

# What run sets in COMMAND's environment, for --help and the docs; every other OTEL_* variable is the user's.
SETS = """\
OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER: otlp_proto_http (other exporters you list there are kept),
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: the receiver on 127.0.0.1,
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL and OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: http/protobuf,
OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: delta (so forked workers' metrics add up),
OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: explicit_bucket_histogram (the report's buckets),
OTEL_METRIC_EXPORT_INTERVAL: 10000 (ms; 1000 with --live), and OTEL_LOGS_EXPORTER: none unless you set it;
with --repeat N, agentperf.run.index=<1..N> after your own OTEL_RESOURCE_ATTRIBUTES.
Every other OTEL_* variable is yours (OTEL_EXPORTER_OTLP_ENDPOINT included)."""

_OTLP_EXPORTERS = frozenset({"otlp", "otlp_proto_http", "otlp_proto_grpc", "none", ""})
# How long processes COMMAND leaves behind may take to end and export: the OTLP exporter's default timeout.
_LEFT_BEHIND_S = 10.0
_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


class RunError(Exception):
    """Something that stops ``run`` before COMMAND starts; the message says what, for the user."""


# Milliseconds between metric exports: what the live view refreshes from, or else a longer wait. The SDK's
# last collection at exit may take as long as one interval and no longer (it passes the interval as its
# timeout): a 1 s interval lost a process's last metrics on a loaded machine ("Metric collection timed out").
_LIVE_INTERVAL_MS = "1000"
_INTERVAL_MS = "10000"


def child_environment(environ: Mapping[str, str], endpoint: str, live: bool = False) -> dict[str, str]:
    """COMMAND's environment: the user's, with what ``run`` needs to receive its traces and metrics (``SETS``)."""
    env = dict(environ)
    for signal_name in ("traces", "metrics"):
        upper = signal_name.upper()
        exporters = f"OTEL_{upper}_EXPORTER"
        kept = [name.strip() for name in env.get(exporters, "").split(",") if name.strip() not in _OTLP_EXPORTERS]
        env[exporters] = ",".join(["otlp_proto_http", *kept])
        env[f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"] = f"{endpoint}/v1/{signal_name}"
        env[f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL"] = "http/protobuf"
    env["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"] = "delta"
    env["OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"] = "explicit_bucket_histogram"
    env["OTEL_METRIC_EXPORT_INTERVAL"] = _LIVE_INTERVAL_MS if live else _INTERVAL_MS
    env.setdefault("OTEL_LOGS_EXPORTER", "none")
    return env


def marked_environment(env: Mapping[str, str], index: int) -> dict[str, str]:
    """One repeated run's environment: ``env`` with ``agentperf.run.index=<index>`` after the user's own
    resource attributes (the last value of a key wins, so a stale one in the user's is overridden)."""
    own = env.get("OTEL_RESOURCE_ATTRIBUTES", "").strip().strip(",")
    mark = f"{names.RUN_INDEX}={index}"
    return {**env, "OTEL_RESOURCE_ATTRIBUTES": f"{own},{mark}" if own else mark}


def launcher() -> str:
    """The ``opentelemetry-instrument`` of this Python's environment (else the first on PATH)."""
    found = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent)) or shutil.which(
        "opentelemetry-instrument"
    )
    if found is None:
        raise RunError("opentelemetry-instrument not found (pip install opentelemetry-instrumentation)")
    return found


def _terminal_signalled_the_group(child: subprocess.Popen[bytes]) -> bool:
    """Whether a SIGINT is most likely the terminal's Ctrl-C, which the child received by itself.

    The terminal signals its whole foreground process group; the child is in ours unless it moved.
    Without a controlling terminal, or with our group in the background, the signal was sent to us alone.
    """
    try:
        terminal = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        ours = os.getpgrp()
        return os.tcgetpgrp(terminal) == ours and os.getpgid(child.pid) == ours
    except OSError:
        return False
    finally:
        os.close(terminal)


def _adopt_orphans() -> None:
    """Become the parent of every process COMMAND leaves behind (Linux), so :func:`_reap_left_behind` can
    wait for them: multiprocessing's resource tracker and workers outliving their server still export."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_left_behind() -> None:
    """Wait (at most ``_LEFT_BEHIND_S``) for the processes COMMAND left behind: their last export arrives."""
    deadline = time.monotonic() + _LEFT_BEHIND_S
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # none left
        if pid == 0:
            time.sleep(0.05)


@contextlib.contextmanager
def _forwarding(child: subprocess.Popen[bytes]) -> Iterator[list[int]]:
    """While COMMAND runs, SIGINT and SIGTERM go to it, and this process waits for it to end; yields the
    signals that came meanwhile (a repeated run stops after a run the user stopped).

    A signal this process ignores is left ignored: COMMAND inherited that (a background job of a
    non-interactive shell ignores SIGINT), so forwarding it would stop an app that, run without us, would
    have gone on."""
    came: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        came.append(signum)
        if signum == signal.SIGINT and _terminal_signalled_the_group(child):
            return
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {
        signum: signal.signal(signum, forward)
        for signum in (signal.SIGINT, signal.SIGTERM)
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        yield came
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass(frozen=True)
class ReceivedRows:
    """The live view's source: the rows of the metrics received so far."""

    received: Received
    label: str

    def rows(self) -> list[Row]:
        return otlp.rows(self.received.metric_requests())


def summary(received: Received, slowest: int) -> str:
    """The report (table, where the time goes, bottlenecks) and the waterfall of the ``slowest`` slowest
    traces (none for 0: the report alone, for a run whose traces are not wanted)."""
    rows = significant(otlp.rows(received.metric_requests()))
    table = (
        report.render_table(rows, bottlenecks(rows))
        if rows
        else "No otel-agentperf metrics were received (is the command a Python program the launcher instruments?)"
    )
    if slowest == 0:
        return table
    return table + "\n\n" + waterfall.render(received.trace_requests(), slowest, received.trace_count())


def write_html(received: Received, slowest: int, path: Path) -> str:
    """Write the report and the ``slowest`` traces as one HTML file; the line that says where (or why not:
    a file that cannot be written costs the HTML, never the run's report or status)."""
    from otel_agentperf.views import html_report

    rows = significant(otlp.rows(received.metric_requests()))
    traces = received.trace_requests()
    page = html_report.render(rows, bottlenecks(rows), traces, slowest, "otel-agentperf run", received.trace_count())
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        return f"otel-agentperf run: cannot write {path}: {exc.strerror or exc}"
    return f"otel-agentperf run: the HTML report is in {path}"


def _status(returncode: int) -> int:
    """COMMAND's exit status as a shell reports it: 128 + the signal's number for a signal."""
    return returncode if returncode >= 0 else 128 - returncode


def _ran(command: list[str], statuses: list[int], seconds: float) -> str:
    """What the summary line says of how COMMAND ended: its status, or each repeated run's."""
    if len(statuses) == 1:
        return f"`{' '.join(command)}` exited with status {statuses[0]} after {seconds:.2f} s"
    failed = [status for status in statuses if status != 0]
    outcome = f"; exits with {failed[0]}, the first failing run's" if failed else ""
    return (
        f"`{' '.join(command)}` ran {len(statuses)} times in {seconds:.2f} s "
        f"(statuses {', '.join(map(str, statuses))}{outcome})"
    )


def run(
    command: list[str],
    save: Path | None,
    live: bool,
    interval: float,
    slowest: int,
    checker: Gate | None = None,
    repeat: int = 1,
    html: Path | None = None,
) -> int:
    """Run COMMAND ``repeat`` times to its end and report (and check, with a ``checker``); its exit status
    (``RunError`` before it starts): the first failing run's when one failed, else the gate's
    (:func:`gate_status`), else 0."""
    if not command:
        raise RunError("run needs a command: otel-agentperf run -- python app.py")
    if shutil.which(command[0]) is None:
        raise RunError(f"command not found: {command[0]}")
    if live and repeat > 1:
        raise RunError("--live shows one run: drop --live or --repeat")
    instrument = launcher()
    saving: BinaryIO | None = None
    if save is not None:
        try:
            saving = save.open("wb", buffering=0)  # each record one write, on disk as it arrives
        except OSError as exc:
            raise RunError(f"cannot write {save}: {exc.strerror or exc}") from exc
    _adopt_orphans()
    statuses: list[int] = []
    try:
        received = Received(saving, slowest=slowest)
        with Receiver(received) as receiver:
            env = child_environment(os.environ, receiver.endpoint, live)
            ran = 0.0  # seconds COMMAND ran, summed over the runs (not the waits for what each left behind)
            piped = subprocess.PIPE if live else None
            for index in range(1, repeat + 1):
                try:
                    child = subprocess.Popen(
                        [instrument, *command],
                        env=marked_environment(env, index) if repeat > 1 else env,
                        stdin=subprocess.DEVNULL if live else None,
                        stdout=piped,
                        stderr=piped,
                    )
                except OSError as exc:
                    raise RunError(f"cannot start {command[0]}: {exc.strerror or exc}") from exc
                began = time.monotonic()
                with _forwarding(child) as signals:
                    if live:
                        _live(ReceivedRows(received, " ".join(command)), interval, child)
                    statuses.append(_status(child.wait()))
                    ran += time.monotonic() - began
                    _reap_left_behind()
                if signals:
                    break
    finally:
        if saving is not None:
            with contextlib.suppress(OSError):  # a failed write was reported with the summary
                saving.close()
    spans, exports = received.span_count(), received.metric_exports
    said = (
        f"otel-agentperf run: {_ran(command, statuses, ran)}; received "
        f"{spans} span{'' if spans == 1 else 's'} and {exports} metric export{'' if exports == 1 else 's'}"
    )
    if received.save_error is not None:
        said += f" ({save}: {received.save_error})"
    elif save is not None:
        said += f" (saved to {save}: otel-agentperf report --file {save}, otel-agentperf traces --file {save})"
    print(f"\n{said}\n\n{summary(received, slowest)}", flush=True)
    if html is not None:
        print(write_html(received, slowest, html), flush=True)
    status = next((status for status in statuses if status != 0), 0)
    if checker is None:
        return status
    return gate_status(status, checker, from_received(received, " ".join(command)))


def gate_status(app_status: int, checker: Gate, source: Source) -> int:
    """Print the gate's table after the report; the status: the app's when it failed (its failure is the
    news, and a failed run's figures are not the ones budgeted), else the gate's (0, ``gate.BROKEN``, or
    ``gate.UNUSABLE`` when there was nothing to check)."""
    checks = checker.judge(source)
    try:
        verdict = gate.status(checks, source)
    except gate.GateError as exc:
        print(f"\notel-agentperf: {exc}", flush=True)
        verdict = gate.UNUSABLE
    else:
        print(f"\n{gate_output.render_table(checks)}", flush=True)
    if app_status:
        print(f"otel-agentperf run: exits with the command's status {app_status}, not the gate's", flush=True)
        return app_status
    return verdict


def _copy(source: IO[bytes] | None, target: Callable[[], TextIO]) -> threading.Thread:
    """Copy the app's output, line by line, to the stream ``target()`` is at each line (the live view's proxy
    while it runs, which prints above the view)."""

    def copy() -> None:
        if source is None:
            return
        for line in iter(source.readline, b""):
            stream = target()
            stream.write(line.decode(errors="replace"))
            stream.flush()

    thread = threading.Thread(target=copy, name="otel-agentperf-output", daemon=True)
    thread.start()
    return thread


def _live(source: ReceivedRows, interval: float, child: subprocess.Popen[bytes]) -> None:
    """The top view of what arrives, until COMMAND exits (``q`` leaves the view; COMMAND goes on), the app's
    output above it; returns when COMMAND, what it left behind, and its output have all ended."""
    copies = [_copy(child.stdout, lambda: sys.stdout), _copy(child.stderr, lambda: sys.stderr)]
    try:
        from otel_agentperf.views import top
    except ImportError as exc:
        print(f"otel-agentperf: --live needs rich: pip install 'otel-agentperf[top]' ({exc})", file=sys.stderr)
    else:
        top.run(source, interval, until=lambda: child.poll() is not None)
    child.wait()
    _reap_left_behind()
    for copy in copies:
        copy.join(_LEFT_BEHIND_S)
