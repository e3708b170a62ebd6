"""The path one warmed sync OpenAI call takes through the package: functions, files and layer crossings.

    python benchmarks/call_path.py [--list]

The review's measurement, as a tool: every Python function entered (``sys.setprofile``'s ``call`` events)
during one ``chat.completions.create`` through the real OpenAI SDK, against the local model server
(``examples/local_llm.py``) on loopback, after warming calls. Only the package's own code is counted:
functions (distinct code objects), the entries into them, the files they live in, and the layer crossings,
a crossing being two consecutive package frames entered in different top-level folders (``recording``,
``wrapping``, ``instrumentation``...). A crossing says nothing of time; it is how far the hot path wanders.
``--list`` prints the package functions in the order first entered.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, NamedTuple

import openai
from pipeline import providers

from otel_agentperf.instrumentation.llm.openai_sdk import OpenAIInstrumentor

PACKAGE = "otel_agentperf"
WARMING_CALLS = 5
MESSAGES = [{"role": "user", "content": "hi"}]


class CallPath(NamedTuple):
    """What one call entered of the package, in order: (module, function qualname) per entry."""

    entries: list[tuple[str, str]]

    @property
    def functions(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys(self.entries))

    @property
    def files(self) -> list[str]:
        return list(dict.fromkeys(module for module, _ in self.entries))

    @property
    def crossings(self) -> int:
        layers = [layer(module) for module, _ in self.entries]
        return sum(1 for before, after in itertools.pairwise(layers) if before != after)


def layer(module: str) -> str:
    """The top-level folder of a package module: ``otel_agentperf.recording.telemetry`` is ``recording``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else parts[0]


def _local_llm() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "examples" / "local_llm.py"
    spec = importlib.util.spec_from_file_location("local_llm", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def _logged(entries: list[tuple[str, str]]) -> Iterator[None]:
    """Log every package function entered on this thread while inside."""

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            if isinstance(module, str) and (module == PACKAGE or module.startswith(PACKAGE + ".")):
                code = frame.f_code
                entries.append((module, getattr(code, "co_qualname", code.co_name)))  # 3.11+

    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(None)


def measure() -> CallPath:
    """One warmed sync call's path through the package, with the instrumentor on and the SDK recording."""
    tracer_provider, meter_provider = providers()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        with _local_llm().running() as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
            for _ in range(WARMING_CALLS):
                client.chat.completions.create(model="m1", messages=MESSAGES)  # type: ignore[arg-type]
            entries: list[tuple[str, str]] = []
            with _logged(entries):
                client.chat.completions.create(model="m1", messages=MESSAGES)  # type: ignore[arg-type]
            client.close()
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()
    return CallPath(entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the package functions entered, in order")
    options = parser.parse_args()
    path = measure()
    if options.list:
        for module, function in path.functions:
            print(f"  {module}:{function}")
    layers = list(dict.fromkeys(layer(module) for module in path.files))
    print(
        f"one warmed sync OpenAI call: {len(path.functions)} package functions ({len(path.entries)} entries) "
        f"in {len(path.files)} files, {path.crossings} layer crossings ({' '.join(layers)})"
    )


if __name__ == "__main__":
    main()
