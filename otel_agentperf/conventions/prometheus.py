"""How an instrument and an attribute are spelled in Prometheus exposition, as the exporter spells them.

The report parses a scrape and the dashboards and alert rules query one by these names, so they are
the exporter's own translation (unit suffix, sanitising), never a copy of it.
"""

from __future__ import annotations

from otel_agentperf.conventions.instruments import Instrument


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
