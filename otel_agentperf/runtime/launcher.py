"""Makes ``opentelemetry-instrument`` work without opentelemetry-distro.

The launcher only sets up the SDK through an ``opentelemetry_configurator`` entry point, which the SDK
alone does not register; without opentelemetry-distro, ``OTEL_METRICS_EXPORTER=prometheus`` would then
export nothing. This ``opentelemetry_pre_instrument`` hook runs after configurators, and configures the
SDK from the standard ``OTEL_*`` variables only when nobody did. Set ``OTEL_AGENTPERF_CONFIGURE_SDK=false``
to leave an unconfigured SDK alone; ``OTEL_SDK_DISABLED=true`` leaves it alone too.

It stands in for a configurator, so it does what one would whatever instrumentations are disabled:
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=otel_agentperf`` (or ``*``) turns our wrappers off, not the SDK
that the app's own spans and every other instrumentation record into. It also has OTLP export watched
(``export_watch``): one warning when it fails and never succeeded.
"""

from __future__ import annotations

from opentelemetry import metrics, trace

from otel_agentperf.runtime import export_watch, failures, settings


def _sdk_configured() -> bool:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(trace.get_tracer_provider(), TracerProvider) or isinstance(
        metrics.get_meter_provider(), MeterProvider
    )


def configure_sdk_if_missing() -> None:
    """Configure the SDK from ``OTEL_*`` variables unless a configurator (or the user) already did."""
    loaded = settings.current()  # the launcher's first call into the package: the snapshot is made here
    if loaded.enabled:
        try:
            export_watch.install()
        except Exception as exc:
            failures.report("watching OTLP export", exc)
    if not loaded.configure_sdk or loaded.sdk_disabled:
        return
    try:
        if _sdk_configured():
            return
        # The same configurator opentelemetry-distro registers; private in the SDK but its only entry.
        from opentelemetry.sdk._configuration import _OTelSDKConfigurator

        _OTelSDKConfigurator().configure()  # type: ignore[no-untyped-call]
    except Exception as exc:
        failures.report("configuring the OpenTelemetry SDK", exc)
