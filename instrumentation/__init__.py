"""Library instrumentors, shipped in the wheel as ``otel_agentperf.instrumentation``.

This folder is mapped onto that package name by ``[tool.setuptools.package-dir]`` in pyproject.toml.
Each instrumented library gets one module here with its own ``opentelemetry_instrumentor`` entry
point; a module must import its library lazily, so an absent library leaves the instrumentor silent.
"""
