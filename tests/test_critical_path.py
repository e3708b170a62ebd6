"""The critical path of a request: exact on hand-built operation trees, and in agreement with itself on a real app.

Each hand-built tree is given as operations with known intervals (milliseconds) and the decomposition it
must have, worked out by hand from the definition (back from the end, the child that finished last decides
when its parent could go on). Both computations must give it exactly:

- in-process: real invocations started and ended through ``Telemetry.start``, in time order, with the
  package's clock replaced by one the test moves, and the request's metric and span read back;
- from spans: the same tree as received span nodes, decomposed by ``views/critical_path.py``.

The real app (``tests/apps/critical_path_app.py``: 8 requests in flight, a fork/join, a model call to the
local server, a tool holding the loop) runs under ``otel-agentperf run --save``; every request's two
decompositions must agree within 2% of its wall time and sum to it within 1%.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from otel_agentperf.conventions import names
from otel_agentperf.receiving import received
from otel_agentperf.recording import critical_path as in_process
from otel_agentperf.recording import invocations, operations, state
from otel_agentperf.recording import telemetry as telemetry_module
from otel_agentperf.views import critical_path, otlp, requests, spans
from otel_agentperf.views.families import REQUEST
from otel_agentperf.views.rows import Row
from otel_agentperf.views.spans import SpanNode
from tests import invariants
from tests.conftest import Recorded

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "otel-agentperf")

# (name, kind, parent, start ms, end ms); the first is the request.
Tree = list[tuple[str, str, str | None, float, float]]

TREES: dict[str, tuple[Tree, dict[tuple[str, str], float]]] = {
    # One after the other: the gaps between them are the agent's own.
    "sequential": (
        [("R", "agent", None, 0, 100), ("a", "tool", "R", 10, 40), ("b", "tool", "R", 40, 90)],
        {("agent", "R"): 20, ("tool", "a"): 30, ("tool", "b"): 50},
    ),
    # Three gathered, then one more: b finished last of the three, so a and c decided nothing.
    "fork/join": (
        [
            ("R", "agent", None, 0, 100),
            ("a", "tool", "R", 10, 50),
            ("b", "tool", "R", 10, 80),
            ("c", "tool", "R", 20, 60),
            ("d", "tool", "R", 80, 95),
        ],
        {("agent", "R"): 15, ("tool", "b"): 70, ("tool", "d"): 15},
    ),
    # A sub-agent whose tool and model call overlap: the model call ended last; when it started, the tool
    # had not ended, so nothing the sub-agent called decided that start: the path runs back through the
    # sub-agent's own time, never the tool's.
    "nested": (
        [
            ("R", "workflow", None, 0, 100),
            ("s", "agent", "R", 10, 90),
            ("x", "tool", "s", 20, 50),
            ("y", "llm", "s", 30, 85),
        ],
        {("workflow", "R"): 20, ("agent", "s"): 25, ("llm", "y"): 55},
    ),
    # Children of children, each waited for in turn, and a child that outlived its parent (not waited for).
    "deep": (
        [
            ("R", "segment", None, 0, 60),
            ("a", "agent", "R", 0, 50),
            ("b", "agent", "a", 5, 45),
            ("c", "tool", "b", 10, 40),
            ("late", "tool", "a", 30, 55),
        ],
        {("segment", "R"): 10, ("agent", "a"): 10, ("agent", "b"): 10, ("tool", "c"): 30},
    ),
}


class _Clock:
    """The package's ``perf_counter``, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _in_process(recorded: Recorded, monkeypatch: pytest.MonkeyPatch, tree: Tree) -> dict[tuple[str, str], float]:
    """Run the tree as real invocations in time order; the request's critical path metric, in ms."""
    clock = _Clock()
    monkeypatch.setattr(invocations, "perf_counter", clock)
    monkeypatch.setattr(telemetry_module, "perf_counter", clock)
    telemetry = state.telemetry()
    depth = {tree[0][0]: 0}
    for name, _, parent, _, _ in tree[1:]:
        depth[name] = depth[parent or ""] + 1
    # Ends before starts at the same instant (one call returns, the next begins), the deepest end first.
    events = sorted(
        [(start, 1, 0, name) for name, _, _, start, _ in tree]
        + [(end, 0, -depth[name], name) for name, *_, end in tree]
    )
    started: dict[str, invocations.Invocation] = {}
    by_name = {name: (kind, parent) for name, kind, parent, _, _ in tree}
    for at, starting, _, name in events:
        clock.now = at / 1000
        kind, parent = by_name[name]
        if starting:
            context = started[parent].context if parent else None
            operation = operations.named(kind, name) if kind != "llm" else operations.llm(name, name, "openai")
            started[name] = telemetry.start(operation, attach=False, parent=context)
        else:
            started[name].end()
    request, request_kind = tree[0][0], tree[0][1]
    metric = recorded.metrics()[names.REQUEST_CRITICAL_PATH]
    found = {}
    for point in metric.data.data_points:
        assert point.attributes[names.REQUEST_NAME] == request
        assert point.attributes[names.REQUEST_KIND] == request_kind
        key = (str(point.attributes[names.OPERATION_KIND]), str(point.attributes[names.CRITICAL_PATH_OPERATION]))
        found[key] = round(point.value * 1000, 6)
    span = recorded.span(started[request].span.name)  # type: ignore[attr-defined]
    on_span = dict(
        zip(span.attributes[names.CRITICAL_PATH_OPERATIONS], span.attributes[names.CRITICAL_PATH_SECONDS], strict=True)
    )
    assert on_span == pytest.approx({f"{kind} {name}": value / 1000 for (kind, name), value in found.items()})
    return found


def _llm_label(name: str) -> str:
    return f"openai/{name}"


def _expected(expected: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """Model calls are named as their rows are: provider/model."""
    return {(kind, _llm_label(name) if kind == "llm" else name): ms for (kind, name), ms in expected.items()}


@pytest.mark.parametrize("case", sorted(TREES))
def test_the_decomposition_in_process_is_exact_on_hand_built_trees(
    case: str, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, expected = TREES[case]
    found = _in_process(recorded, monkeypatch, tree)
    assert found == pytest.approx(_expected(expected), abs=1e-6)
    assert sum(found.values()) == pytest.approx(tree[0][4] - tree[0][3], abs=1e-6)
    (duration,) = recorded.histogram_points(names.REQUEST_DURATION)
    assert duration.count == 1 and duration.sum == pytest.approx((tree[0][4] - tree[0][3]) / 1000)


def _nodes(tree: Tree) -> SpanNode:
    made = {}
    for name, kind, parent, start, end in tree:
        label = _llm_label(name) if kind == "llm" else name
        node = SpanNode(name, name.encode(), (parent or "").encode(), int(start * 1e6), int(end * 1e6), False)
        node.kind, node.label = kind, label
        made[name] = node
        if parent:
            made[parent].children.append(node)
    return made[tree[0][0]]


@pytest.mark.parametrize("case", sorted(TREES))
def test_the_decomposition_from_spans_is_exact_on_hand_built_trees(case: str) -> None:
    tree, expected = TREES[case]
    found = critical_path.decompose(_nodes(tree))
    assert {key: value * 1000 for key, value in found.items()} == pytest.approx(_expected(expected), abs=1e-6)


def test_another_instrumentations_span_is_part_of_the_operation_around_it() -> None:
    """An HTTP client's span under a tool: its children are the tool's, its time the tool's own."""
    root = _nodes([("R", "agent", None, 0, 100), ("t", "tool", "R", 10, 90), ("m", "llm", "R", 90, 100)])
    http = SpanNode("POST", b"http", b"t", int(20e6), int(80e6), False)
    inner = SpanNode("x", b"x", b"http", int(30e6), int(70e6), False)
    inner.kind, inner.label = "tool", "x"
    http.children.append(inner)
    root.children[0].children.append(http)
    found = {key: round(value * 1000, 6) for key, value in critical_path.decompose(root).items()}
    assert found == {("agent", "R"): 10, ("tool", "t"): 40, ("tool", "x"): 40, ("llm", "openai/m"): 10}


def test_a_wait_for_a_held_loop_is_charged_to_the_holder() -> None:
    """A tool on the path waited 30 of its 80 ms for a loop another request's tool held: in the report, those
    30 ms are the holder's, shared among holders by time held; the shares still add up to 100%."""
    root = _nodes([("R", "agent", None, 0, 100), ("t", "tool", "R", 10, 90)])
    root.children[0].waited = int(30e6)
    found = critical_path.decompose(root)
    assert {key: round(value * 1000, 6) for key, value in found.items()} == {
        ("agent", "R"): 20,
        ("tool", "t"): 50,
        critical_path.WAITED: 30,
    }
    assert in_process.close(None, 0.0, 0.08, ("tool", "t"), 0.03) == pytest.approx(
        {("tool", "t"): 0.05, in_process.WAITED: 0.03}
    )
    request = Row(REQUEST, "agent R", calls=1, total_seconds=0.1, critical_path=found)
    holders = [Row("tool", "geocode", calls=4, blocked_seconds=0.3), Row("code", "app:main", blocked_seconds=0.1)]
    (said,) = requests.requests([request, *holders])
    by_label = {(part.kind, part.name): (round(part.seconds * 1000, 6), part.share) for part in said.parts}
    assert by_label == {
        ("tool", "t"): (50, 50),
        ("tool", "geocode"): (22.5, 22),
        ("agent", "R"): (20, 20),
        ("code", "app:main"): (7.5, 8),
    }
    invariants.check_text("\n".join(requests.lines([request, *holders])))


def test_shares_add_up_to_exactly_100() -> None:
    assert requests.shares([1, 1, 1]) == [34, 33, 33]
    assert sum(requests.shares([0.4, 0.3, 0.2, 0.05, 0.05])) == 100
    assert requests.shares([0.0, 0.0]) == [0, 0]


def _run_saved(
    server: Any, tmp_path: Path, app: list[str], slowest: str = "0", **extra: str
) -> tuple[subprocess.CompletedProcess[str], received.Received]:
    """``run --save`` of a test app (its file under tests/apps, then its arguments) against the local model
    server; its report checked for possible numbers, and what it saved, loaded."""
    saved = tmp_path / "run.otlp"
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(OPENAI_BASE_URL=server.base_url, **extra)
    command = [sys.executable, str(ROOT / "tests" / "apps" / app[0]), *app[1:]]
    ran = subprocess.run(
        [CLI, "run", "--save", str(saved), "--slowest", slowest, "--", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    invariants.check_text(ran.stdout)
    return ran, received.load(saved.read_bytes())


# Once, not twice, under `--count 2`: the app runs in processes the test starts afresh.
@pytest.mark.repeat(1)
def test_a_real_apps_requests_decompose_alike_in_process_and_from_their_spans(server: Any, tmp_path: Path) -> None:
    ran, loaded = _run_saved(server, tmp_path, ["critical_path_app.py", "8"], slowest="1")
    checked = 0
    for trace in spans.traces(loaded.trace_requests()):
        for root in critical_path.requests(trace.roots):
            wall = root.duration / 1e9
            from_spans = critical_path.decompose(root)
            assert sum(from_spans.values()) == pytest.approx(wall, rel=1e-6)
            recorded = _recorded_path(loaded, root)
            assert sum(recorded.values()) == pytest.approx(wall, rel=0.01)
            for key in set(from_spans) | set(recorded):
                label = f"{key[0]} {key[1]}"
                assert abs(from_spans.get(key, 0.0) - recorded.get(key, 0.0)) <= 0.02 * wall, (label, root.name)
            checked += 1
    assert checked == 16
    # The report leads with the request, its critical path in ms per request adding up to its mean.
    lead = ran.stdout.split("Requests: ", 1)[1].splitlines()[1]
    assert lead.startswith("- agent `planner`: 16 requests, p50 ")
    assert "tool search_flights" in lead and "tool weather" not in lead.split(" other operations")[0]


def _recorded_path(loaded: received.Received, root: SpanNode) -> dict[tuple[str, str], float]:
    """What the app recorded on the request's span: its critical path, (kind, name) -> seconds."""
    for request in loaded.trace_requests():
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    if span.span_id != root.span_id:
                        continue
                    found = {attribute.key: attribute.value for attribute in span.attributes}
                    labels = [value.string_value for value in found[names.CRITICAL_PATH_OPERATIONS].array_value.values]
                    seconds = [value.double_value for value in found[names.CRITICAL_PATH_SECONDS].array_value.values]
                    return {
                        (label.split(" ", 1)[0], label.split(" ", 1)[1]): value
                        for label, value in zip(labels, seconds, strict=True)
                    }
    raise AssertionError(f"no span {root.name}")


# Once, not twice, under `--count 2`: the app runs in a process the test starts afresh.
@pytest.mark.repeat(1)
def test_a_script_with_no_agent_is_one_request_the_whole_process(server: Any, tmp_path: Path) -> None:
    measured = tmp_path / "measured.json"
    ran, loaded = _run_saved(server, tmp_path, ["batch_script.py", str(measured)], OTEL_SERVICE_NAME="nightly-digest")
    wall = json.loads(measured.read_text(encoding="utf-8"))["seconds"]
    (row,) = [row for row in otlp.rows(loaded.metric_requests()) if row.kind == REQUEST]
    assert (row.name, row.calls) == ("process nightly-digest", 1)
    # From its first operation's start to its last one's end, as the app measured around them.
    assert row.total_seconds == pytest.approx(wall, abs=0.005 + 0.02 * wall)
    assert sum(row.critical_path.values()) == pytest.approx(row.total_seconds, rel=0.01)
    # The slowest fetch of each gather and every model call and parse are on the path (with the time a call
    # waited for the loop, the SDK's first call say), and nothing else.
    assert set(row.critical_path) - {in_process.WAITED} == {
        ("tool", "fetch_document"),
        ("llm", "openai/fast-summariser"),
        ("tool", "parse_summary"),
        (names.KIND_PROCESS, "nightly-digest"),
    }
    assert row.critical_path[("tool", "fetch_document")] == pytest.approx(2 * 0.12, abs=0.03)
    # The same request and decomposition from its spans.
    (from_spans,) = critical_path.all_requests(spans.traces(loaded.trace_requests()))
    assert (from_spans.kind, from_spans.label) == (names.KIND_PROCESS, "nightly-digest")
    assert from_spans.duration / 1e9 == pytest.approx(row.total_seconds, abs=0.02 * row.total_seconds)
    decomposed = critical_path.decompose(from_spans)
    for key in set(decomposed) | set(row.critical_path):
        assert abs(decomposed.get(key, 0.0) - row.critical_path.get(key, 0.0)) <= 0.02 * wall, key
    lead = ran.stdout.split("Requests: ", 1)[1].splitlines()[1]
    assert lead.startswith("- process `nightly-digest`: 1 requests, p50 ")
