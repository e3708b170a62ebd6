"""How an instrument and an attribute are spelled in Prometheus exposition, as the exporter spells them.

The report parses a scrape and the dashboards and alert rules query one by these names, so they are
the exporter's own translation (unit suffix, sanitising), never a copy of it; only the two-line rule for
label values (:func:`label_value`) is restated, because the exporter keeps it in a method of a private class.
"""

from __future__ import annotations

import json

from otel_agentperf.conventions.instruments import Instrument

SCOPE_LABEL = "otel_scope_name"  # the label the exporter gives each point's instrumentation scope (older: none)


def metric_name(name: str, unit: str) -> str:
    """The series name the Prometheus exporter gives an instrument (before ``_bucket``/``_total``)."""
    from opentelemetry.exporter.prometheus._mapping import map_unit, sanitize_full_name

    base = sanitize_full_name(name)
    suffix = map_unit(unit)
    return f"{base}_{suffix}" if suffix and not base.endswith(f"_{suffix}") else base


def family(instrument: Instrument) -> str:
    """The metric family of ``instrument`` in exposition."""
    return metric_name(instrument.name, instrument.unit)


def label(attribute: str) -> str:
    """The label an attribute becomes in Prometheus exposition."""
    from opentelemetry.exporter.prometheus._mapping import sanitize_attribute

    return str(sanitize_attribute(attribute))


def label_value(value: object) -> str:
    """The label value an attribute value becomes: a string as it is, anything else as JSON (``true``, ``3``).

    The exporter's own rule (its collector's ``_check_value``, a method with no state), for values that reach
    the report without passing through the exporter: OTLP points ``otel-agentperf run`` received.
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)
