"""Exporter settings the SDK would die on, checked by ``opentelemetry-instrument`` before the app starts.

The SDK configurator runs in the app, before any instrumentor or pre-instrument hook: an unknown exporter
name (``OTEL_METRICS_EXPORTER=promethus``), a Prometheus port that is not a number or is in use, or an
unknown OTLP protocol raises there, and the launcher logs two tracebacks and loads no instrumentation at
all. The one code of ours that runs earlier is this module: ``opentelemetry-instrument`` imports every
``opentelemetry_environment_variables`` entry point in its own process (to offer their variables as
command-line options), before it replaces itself with the app. Imported there, it checks those settings;
a bad one gets one line naming the variable and the fix, and is taken out of the environment the app
inherits, so the app runs with the rest of its telemetry.

It also says where traces go when only Prometheus metrics were asked for: opentelemetry-distro would
default ``OTEL_TRACES_EXPORTER`` to ``otlp`` and send them to ``localhost:4317``, where nothing listens in
the quickstart; with no traces exporter and no OTLP endpoint named, traces are switched off
(``OTEL_TRACES_EXPORTER=none``) and the line says how to send them.

This process has no logging set up, so the lines go straight to stderr. Settings given as the launcher's
own options (``--metrics_exporter``) are applied after this check and are not checked.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from collections.abc import MutableMapping
from pathlib import Path

_LAUNCHER = "opentelemetry-instrument"
_EXPORTER_VARIABLES = {
    "traces": "OTEL_TRACES_EXPORTER",
    "metrics": "OTEL_METRICS_EXPORTER",
    "logs": "OTEL_LOGS_EXPORTER",
}
_OTLP_ALIAS = "otlp"  # the SDK's name for the OTLP exporter of the configured protocol
_PROMETHEUS = "prometheus"
_PORT = "OTEL_EXPORTER_PROMETHEUS_PORT"
_HOST = "OTEL_EXPORTER_PROMETHEUS_HOST"
_DEFAULT_PORT = "9464"  # the Prometheus exporter's own defaults
_DEFAULT_HOST = "localhost"
_PROTOCOLS = ("grpc", "http/protobuf")  # what the SDK configurator accepts for OTEL_EXPORTER_OTLP*_PROTOCOL
_PROTOCOL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
)
_TRACE_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def _say(line: str) -> None:
    print(f"otel-agentperf: {line}", file=sys.stderr, flush=True)


@functools.cache
def _exporter_names() -> dict[str, frozenset[str]]:
    """Every installed exporter's name by group, from one scan: each scan reads every distribution's entry points."""
    from importlib.metadata import entry_points

    every = entry_points()  # one scan; select() filters what it read
    return {
        group: frozenset(entry_point.name for entry_point in every.select(group=group))
        for group in (f"opentelemetry_{signal}_exporter" for signal in _EXPORTER_VARIABLES)
    }


def _installed(signal: str) -> list[str]:
    return sorted(_exporter_names()[f"opentelemetry_{signal}_exporter"])


def _port_problem(environ: MutableMapping[str, str]) -> str | None:
    """Why the Prometheus exporter could not serve on its port, or None when it can."""
    text = environ.get(_PORT, _DEFAULT_PORT).strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        return f"{_PORT}={text!r} is not a port number: set it to a number from 1 to 65535 (default {_DEFAULT_PORT})"
    host, port = environ.get(_HOST, _DEFAULT_HOST), int(text)
    try:
        # The address family the exporter's server picks: the first the host resolves to.
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except OSError as exc:
        return f"{_HOST}={host!r} does not resolve ({exc.strerror or exc}): set it to this machine's address"
    try:
        # Bound as the exporter's server binds it (address reuse on, as create_server does), then let go.
        with socket.create_server((host, port), family=family):
            return None
    except OSError as exc:
        return (
            f"{_PORT}={text} cannot be served on {host} ({exc.strerror or exc}): another process holds it; "
            f"set {_PORT} to a free port"
        )


def check(environ: MutableMapping[str, str]) -> None:
    """Take every setting the SDK configurator would raise on out of ``environ``, one line for each."""
    for variable in _PROTOCOL_VARIABLES:
        protocol = environ.get(variable)
        if protocol is not None and protocol.strip() not in _PROTOCOLS:
            _say(f"{variable}={protocol!r} is not an OTLP protocol: use {' or '.join(_PROTOCOLS)}; using the default")
            del environ[variable]
    for signal, variable in _EXPORTER_VARIABLES.items():
        value = environ.get(variable)
        if value is None or value.strip().lower() == "none":
            continue
        known = ", ".join(sorted({_OTLP_ALIAS, *_installed(signal)}))
        kept = []
        for name in (part.strip() for part in value.split(",") if part.strip()):
            if name not in known.split(", "):
                _say(
                    f"{variable}={value}: no {signal} exporter {name!r} is installed (installed: {known}); "
                    f"fix the name: {signal} are not exported to it"
                )
            elif signal == "metrics" and name == _PROMETHEUS and (problem := _port_problem(environ)) is not None:
                _say(f"{problem}; metrics are not served to Prometheus")
            else:
                kept.append(name)
        environ[variable] = ",".join(kept) or "none"
    metrics = {part.strip() for part in environ.get(_EXPORTER_VARIABLES["metrics"], "").split(",")}
    if (
        metrics == {_PROMETHEUS}
        and _EXPORTER_VARIABLES["traces"] not in environ
        and not any(environ.get(name) for name in _TRACE_ENDPOINTS)
    ):
        environ[_EXPORTER_VARIABLES["traces"]] = "none"
        _say(
            "metrics go to Prometheus and no traces exporter is set: traces are not exported "
            "(set OTEL_TRACES_EXPORTER=otlp and OTEL_EXPORTER_OTLP_ENDPOINT to send them)"
        )


# Only in the launcher's process: imported anywhere else (a tool listing the group), it changes nothing.
if Path(sys.argv[0]).name == _LAUNCHER:
    try:
        check(os.environ)
    except Exception as exc:  # never stop the launcher: the SDK would then report what we could not check
        _say(f"could not check the exporter settings: {exc!r}")
