"""The HTML report in a real browser: Debian's Chromium, driven headless by Playwright over the DevTools protocol.

Each page is opened from ``file://`` with every console message and every request recorded: a page that logs
an error, or asks for anything but its own file, fails. The figures in the DOM are held to the JSON report's
for the same run. Screenshots go to ``$AGENTPERF_ARTIFACTS`` (or the test's tmp dir): look at them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from playwright.sync_api import Browser, Page, sync_playwright

import otel_agentperf as perf
from otel_agentperf.conventions import names
from otel_agentperf.receiving import saved
from otel_agentperf.receiving.received import Received
from otel_agentperf.views import html_report, html_traces, run, sources
from otel_agentperf.views.families import significant
from otel_agentperf.views.insights import bottlenecks
from tests.conftest import MakeRecorded

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tests" / "apps" / "html_app.py"
BLOCKING_APP = ROOT / "tests" / "apps" / "html_blocking_app.py"
CLI = str(Path(sys.executable).parent / "otel-agentperf")
CHROMIUM = Path("/usr/bin/chromium")  # the distribution's (scripts/test.sh installs it), never a download
HOSTILE = "</script><script>window.pwned=1</script><!-- \"quoted\" 'single' & <b>bold</b>"  # as html_app.py
MAX_BYTES = 3 * 1024 * 1024
MAX_RENDER_MS = 2000.0


@dataclass
class Opened:
    """A page and what it did while it loaded: its console messages and every URL it requested."""

    page: Page
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def assert_quiet(self, path: Path) -> None:
        assert self.console == [], self.console
        assert self.requests == [path.resolve().as_uri()]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


def _open(browser: Browser, path: Path, scheme: str = "light") -> Opened:
    page = browser.new_page(color_scheme=scheme, viewport={"width": 1400, "height": 1000})
    opened = Opened(page)
    page.on("console", lambda message: opened.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: opened.console.append(f"pageerror: {error}"))
    page.on("request", lambda request: opened.requests.append(request.url))
    page.goto(path.resolve().as_uri())
    page.wait_for_function("document.body.dataset.renderedMs !== undefined")
    return opened


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("AGENTPERF_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _cli(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(extra)
    return subprocess.run([CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


@dataclass(frozen=True)
class Run:
    """One real run of html_app.py under ``run``: its saved run, its HTML and its JSON report."""

    folder: Path
    saved: Path
    html: Path
    report: dict[str, Any]


@pytest.fixture(scope="module")
def app_run(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("html")
    result = _cli(
        "run", "--save", "app.run", "--html", "app.html", "--slowest", "12", "--",
        sys.executable, str(APP), "12", "4", cwd=folder, OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="local",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "otel-agentperf run: the HTML report is in app.html" in result.stdout
    as_json = _cli("report", "--file", "app.run", "--format", "json", cwd=folder)
    assert as_json.returncode == 0, as_json.stderr
    return Run(folder, folder / "app.run", folder / "app.html", json.loads(as_json.stdout))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def test_the_pages_figures_are_the_json_reports_and_it_asks_nothing_of_the_network(
    app_run: Run, browser: Browser, tmp_path: Path
) -> None:
    opened = _open(browser, app_run.html)
    opened.assert_quiet(app_run.html)
    page = opened.page
    report = app_run.report
    (request,) = report["requests"]
    article = page.locator("article.request")
    assert article.locator("h3").text_content() == "agent planner"
    for key in ("count", "p50_seconds", "p95_seconds", "mean_seconds"):
        figure = article.locator(f"dd[data-figure={key}]")
        assert float(figure.get_attribute("data-value") or "nan") == request[key]
    assert article.locator("dd[data-figure=count]").text_content() == "12"
    assert article.locator("dd[data-figure=mean_seconds]").text_content() == _ms(request["mean_seconds"])
    legend = article.locator("ol.legend li").all_text_contents()
    assert [f"({p['share_percent']}%)" for p in request["critical_path"]] == [t[t.rindex(" ") + 1 :] for t in legend]

    rows = page.locator("table.operations tbody tr")
    assert rows.count() == len(report["operations"]) == 5
    for i, operation in enumerate(report["operations"]):  # the table's rank is the report's
        row = rows.nth(i)
        assert row.get_attribute("data-kind") == operation["kind"]
        assert row.locator("th").text_content() == operation["name"]  # the hostile name, as text
        cells = row.locator("td")
        assert cells.nth(1).text_content() == str(operation["calls"])
        assert cells.nth(2).text_content() == str(operation["errors"])
        assert cells.nth(3).text_content() == _ms(operation["own_seconds"])
        assert cells.nth(5).text_content() == _ms(operation["total_seconds"])
        assert float(cells.nth(6).get_attribute("data-value") or "nan") == operation["mean_seconds"]
    assert page.locator("#bottlenecks li").all_text_contents() == report["bottlenecks"]
    by_kind = page.locator("ul[aria-label='own time by kind'] > li")
    assert [float(v or "nan") for v in by_kind.evaluate_all("items => items.map(i => i.dataset.value)")] == list(
        report["own_seconds_by_kind"].values()
    )
    # Hostile names are text: nothing ran, no element came from them.
    assert page.evaluate("window.pwned") is None
    assert page.locator("main b, main script").count() == 0
    # The model's tokens and cost (unpriced: the local model has no price), as the JSON has them.
    (model,) = [op for op in report["operations"] if op["kind"] == "llm"]
    spent = page.locator("#spending tbody tr")
    assert spent.count() == 1 and spent.locator("th").text_content() == f"llm {model['name']}"
    assert float(spent.locator("td").first.get_attribute("data-value") or "nan") == model["tokens"] > 0
    assert spent.locator("td").nth(1).text_content() == "1 unpriced"  # rows.cost_text: no price, not free
    # The whole run's tokens and cost in the summary: the JSON's "spent", the cost unknown (not $0).
    totals = report["spent"]
    assert totals["tokens"] == totals["input_tokens"] + totals["output_tokens"] == model["tokens"]
    assert totals["cost_usd"] is None and totals["unpriced"] == 1
    run_spent = page.locator("#requests article.spent")
    tokens = run_spent.locator("dd[data-figure=tokens]")
    assert float(tokens.get_attribute("data-value") or "nan") == totals["tokens"]
    assert tokens.text_content() == str(totals["tokens"])
    said = run_spent.locator("dd[data-figure=input_tokens]").text_content()
    assert said == f"{totals['input_tokens']} in + {totals['output_tokens']} out"
    cost = run_spent.locator("dd[data-figure=cost_usd]")
    assert cost.get_attribute("data-value") is None and cost.text_content() == "1 unpriced"
    assert page.locator("script").count() == 2  # the data block and the page's own
    folder = _artifacts(tmp_path)
    page.screenshot(path=str(folder / "html-report-light.png"), full_page=True)
    dark = _open(browser, app_run.html, "dark")
    dark.assert_quiet(app_run.html)
    assert dark.page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(21, 24, 28)"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    dark.page.locator("#traces button.span-name").nth(2).click()
    dark.page.screenshot(path=str(folder / "html-report-dark.png"), full_page=True)
    background = "getComputedStyle(document.body).backgroundColor"
    page.emulate_media(color_scheme="dark")  # an open page follows the system's switch
    assert page.evaluate(background) == "rgb(21, 24, 28)"
    path_row = page.locator("#traces li.on-path").first
    assert path_row.evaluate("li => getComputedStyle(li).backgroundColor") == "rgb(61, 51, 20)"
    trace = page.locator("article.trace").first
    trace.locator("button.toggle").first.click()  # collapsed on screen
    assert trace.locator("ul.waterfall > li:not([hidden])").count() == 1
    trace.locator("button.span-name").first.click()
    # Printed, even from a dark screen: the light palette, black text, no controls or side panel, and every
    # span of a collapsed tree listed.
    page.emulate_media(media="print")
    assert page.evaluate(background) == "rgb(255, 255, 255)"
    assert page.evaluate("getComputedStyle(document.body).color") == "rgb(0, 0, 0)"
    assert path_row.evaluate("li => getComputedStyle(li).backgroundColor") == "rgb(255, 243, 196)"
    assert not page.get_by_label("Filter:").is_visible()
    assert not trace.locator("aside.span-details").is_visible()
    spans = trace.locator("ul.waterfall > li")
    assert spans.count() > 1 and all(spans.nth(i).is_visible() for i in range(spans.count()))
    page.pdf(path=str(folder / "html-report.pdf"))
    page.emulate_media(media="screen", color_scheme="light")
    assert page.evaluate(background) == "rgb(255, 255, 255)" and not spans.nth(1).is_visible()


def test_the_operation_table_sorts_by_a_column_and_filters_by_name(app_run: Run, browser: Browser) -> None:
    opened = _open(browser, app_run.html)
    page = opened.page
    rows = page.locator("table.operations tbody tr")
    calls = page.locator("table.operations thead th").nth(2).locator("button")
    calls.click()
    values = [float(v) for v in rows.evaluate_all("trs => trs.map(tr => tr.children[2].dataset.value)")]
    assert values == sorted(values, reverse=True) and values[0] == 24  # lookup: two per request
    assert page.locator("th[aria-sort=descending]").text_content() == "calls"
    calls.press("Enter")  # the keyboard sorts too: the other way
    values = [float(v) for v in rows.evaluate_all("trs => trs.map(tr => tr.children[2].dataset.value)")]
    assert values == sorted(values)
    page.get_by_label("Filter:").fill("FLAKY")
    shown = page.locator("table.operations tbody tr:not([hidden])")
    assert shown.count() == 1 and shown.locator("th").text_content() == "flaky"
    assert page.locator("table.operations tbody tr:visible").count() == 1
    assert page.locator("#table-count").text_content() == "1 of 5 operations"
    page.get_by_label("Filter:").fill("tool script")  # every word must match: only the hostile name has both
    assert shown.count() == 1 and shown.locator("th").text_content() == HOSTILE
    opened.assert_quiet(app_run.html)


def test_a_click_on_a_span_shows_its_attributes_and_a_root_collapses_its_children(
    app_run: Run, browser: Browser
) -> None:
    opened = _open(browser, app_run.html)
    page = opened.page
    assert page.locator("#traces-drawn").text_content() == "12 of 12 traces drawn (the slowest); 0 left out."
    chat = page.locator("button.span-name", has_text="chat ")
    trace = page.locator("article.trace", has_not=chat).first  # a request of the planner's tools alone
    spans = trace.locator("ul.waterfall > li")
    assert spans.count() == 5
    trace.locator("button.span-name", has_text="script").click()
    panel = trace.locator("aside.span-details")
    assert panel.locator("h4").text_content() == f"execute_tool {HOSTILE}"
    keys, values = (panel.locator(f"dl.attributes {tag}").all_text_contents() for tag in ("dt", "dd"))
    attributes = dict(zip(keys, values, strict=True))
    assert attributes["gen_ai.tool.name"] == HOSTILE
    assert attributes["gen_ai.agent.name"] == "planner"
    assert attributes["status"] == "ok"
    # Requests 0, 3, 6 and 9 failed in flaky: four error spans marked, each with its status in the panel.
    errors = page.locator("li.error")
    assert errors.count() == 4 and errors.locator(".badge").all_text_contents() == ["error"] * 4
    failed = page.locator("article.trace", has=page.locator("li.error")).first
    failed.locator("li.error button.span-name").click()
    status = failed.locator("aside dl.attributes div", has_text="status").first.locator("dd")
    assert status.text_content() == "error"
    # Sequential tools: every span of a trace is on its critical path.
    assert trace.locator("li.on-path").count() == 5
    toggle = trace.locator("button.toggle").first
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert trace.locator("ul.waterfall > li:not([hidden])").count() == 1
    assert [spans.nth(i).is_visible() for i in range(5)] == [True] + [False] * 4  # hidden on screen, not only marked
    toggle.click()
    assert trace.locator("ul.waterfall > li:not([hidden])").count() == 5
    opened.assert_quiet(app_run.html)


def test_the_page_is_used_from_the_keyboard_alone(app_run: Run, browser: Browser) -> None:
    opened = _open(browser, app_run.html)
    page = opened.page
    page.locator("body").focus()
    focused = "document.activeElement"
    page.keyboard.press("Tab")  # the first stop: the filter, then the table's sort buttons in column order
    assert page.evaluate(f"{focused}.id") == "table-filter"
    page.keyboard.type("lookup")
    assert page.locator("#table-count").text_content() == "1 of 5 operations"
    page.keyboard.press("Tab")
    assert page.evaluate(f"{focused}.textContent") == "kind"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate(f"{focused}.textContent") == "calls"
    page.keyboard.press("Space")  # a button: Space sorts as Enter does
    assert page.locator("th[aria-sort=descending]").text_content() == "calls"
    # Tab on to the first waterfall: its root's toggle, then its name; Enter shows the span's attributes.
    toggle = page.locator("article.trace").first.locator("button.toggle").first
    while page.evaluate(f"{focused}.classList.contains('toggle')") is False:
        page.keyboard.press("Tab")
    assert page.evaluate(f"{focused}.getAttribute('aria-label')").startswith("collapse ")
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Tab")
    name = page.evaluate(f"{focused}.textContent")
    page.keyboard.press("Enter")
    panel = page.locator("article.trace").first.locator("aside.span-details")
    assert panel.locator("h4").text_content() == name
    assert panel.locator("dl.attributes dt").first.text_content() == "start ms"
    # Every control is a real button or a labelled input, and focus is drawn.
    assert page.locator("main [onclick], main [tabindex]").count() == 0
    outline = page.evaluate(f"getComputedStyle({focused}).outlineStyle")
    assert outline == "solid"
    opened.assert_quiet(app_run.html)


def test_the_retried_model_call_shows_its_attempts_on_a_timeline(app_run: Run, browser: Browser) -> None:
    opened = _open(browser, app_run.html)
    page = opened.page
    (model,) = [op for op in app_run.report["operations"] if op["kind"] == "llm"]
    assert model["retries"] == 2 and model["retry_reasons"] == {"429": 2}
    (said,) = page.locator("#retries > ul > li").all_text_contents()
    assert said.startswith(f"llm {model['name']}: ") and "2 HTTP retries" in said
    assert page.locator("#retries ol.timeline > li").count() == 1
    attempts = page.locator("#retries .attempt:not(.last)")  # the failed ones
    assert attempts.count() == 2
    for title in attempts.evaluate_all("marks => marks.map(m => m.title)"):
        assert "429" in title, title
    # The attempt that answered: from the first attempt's start plus the span's retry time, read here from
    # the saved run's span apart from the report.
    source = sources.from_file(app_run.saved, slowest=20)
    assert source.received is not None
    (span,) = [
        span
        for request in source.received.trace_requests()
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
        if any(event.name == names.LLM_RETRY_EVENT for event in span.events)
    ]
    retry_time = next(kv.value.double_value for kv in span.attributes if kv.key == names.LLM_RETRY_TIME)
    first = min(
        event.time_unix_nano
        - span.start_time_unix_nano
        - int(next(kv.value.double_value for kv in event.attributes if kv.key == names.LLM_ATTEMPT_DURATION) * 1e9)
        for event in span.events
        if event.name == names.LLM_RETRY_EVENT
    )
    start = first + int(retry_time * 1e9)
    said = f"last attempt from +{_ms(start / 1e9)} ms (retries took {_ms(retry_time)} ms)"
    last = page.locator("#retries .attempt.last")
    assert last.get_attribute("title") == said
    assert page.locator("#retries .last-attempt").text_content() == "; " + said
    link = page.locator("#retries a")
    assert link.get_attribute("href") == f"#trace-{span.trace_id.hex()}"
    link.press("Enter")  # to the call's waterfall, from the keyboard
    assert page.evaluate("location.hash") == f"#trace-{span.trace_id.hex()}"
    assert page.locator(f"#trace-{span.trace_id.hex()} button.span-name", has_text="chat ").count() == 1
    opened.assert_quiet(app_run.html)


@pytest.fixture(scope="module")
def blocking_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("blocking")
    result = _cli(
        "run", "--save", "b.run", "--html", "b.html", "--", sys.executable, str(BLOCKING_APP), "3", cwd=folder
    )
    assert result.returncode == 0, result.stdout + result.stderr
    as_json = _cli("report", "--file", "b.run", "--format", "json", cwd=folder)
    assert as_json.returncode == 0, as_json.stderr
    return Run(folder, folder / "b.run", folder / "b.html", json.loads(as_json.stdout))


def _blocked_events(path: Path) -> dict[str, list[tuple[float, str, str, int]]]:
    """Read from the saved run, apart from the report: each span name's event-loop blocked events."""
    source = sources.from_file(path, slowest=10)
    assert source.received is not None
    found: dict[str, list[tuple[float, str, str, int]]] = {}
    for request in source.received.trace_requests():
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    for event in span.events:
                        if event.name == names.EVENT_LOOP_BLOCKED_EVENT:
                            values = {kv.key: kv.value for kv in event.attributes}
                            found.setdefault(span.name, []).append(
                                (
                                    values[names.EVENT_LOOP_BLOCKED_TIME].double_value,
                                    values[names.CODE_FUNCTION].string_value if names.CODE_FUNCTION in values else "",
                                    Path(values[names.CODE_FILE_PATH].string_value).name
                                    if names.CODE_FILE_PATH in values
                                    else "",
                                    values[names.CODE_LINE_NUMBER].int_value if names.CODE_LINE_NUMBER in values else 0,
                                )
                            )
    return found


def _calls_to(function: str) -> list[str]:
    """The blocking app's call stack to ``function``'s sleep, as ``module:function:line``, outermost first."""
    source = BLOCKING_APP.read_text().splitlines()

    def line(inside: str, text: str) -> int:
        start = next(
            n for n, code in enumerate(source, 1) if code.startswith(("def ", "async def ")) and f" {inside}(" in code
        )
        return next(n for n, code in enumerate(source, 1) if n > start and text in code)

    module = BLOCKING_APP.stem
    calls = [f"{module}:main:{line('main', 'await planner(request)')}"]
    if function == "parse_slowly":
        calls.append(f"{module}:planner:{line('planner', 'parse_slowly()')}")
    else:
        calls.append(f"{module}:planner:{line('planner', 'crunch(request)')}")
    return [*calls, f"{module}:{function}:{line(function, 'time.sleep(HELD)')}"]


def test_each_operation_that_held_the_loop_shows_where_the_monitor_saw_it(
    blocking_run: Run, browser: Browser, tmp_path: Path
) -> None:
    opened = _open(browser, blocking_run.html)
    opened.assert_quiet(blocking_run.html)
    page = opened.page
    report = blocking_run.report
    held = {f"{op['kind']} {op['name']}": op["blocked_seconds"] for op in report["operations"]}
    held |= {code["name"]: code["blocked_seconds"] for code in report["code_outside_operations"]}
    assert set(held) == {"agent async_planner", "tool crunch", "html_blocking_app:warm_cache"}
    bars = page.locator("#blocking ul.bars > li")
    labels = bars.locator(".label").all_text_contents()
    values = [float(v) for v in bars.evaluate_all("items => items.map(i => i.dataset.value)")]
    assert dict(zip(labels, values, strict=True)) == held  # every bar is the JSON's figure
    assert values == sorted(values, reverse=True)
    # Under each operation, its sites as its spans' events say: function, file name (never the folders), line.
    lines = [number for number, text in enumerate(BLOCKING_APP.read_text().splitlines(), 1) if "sleep(HELD)" in text]
    events = _blocked_events(blocking_run.saved)
    seen = stacks = 0
    for label, span_name, function in (
        ("agent async_planner", "invoke_agent async_planner", "parse_slowly"),
        ("tool crunch", "execute_tool crunch", "crunch"),
    ):
        found = events[span_name]
        assert len(found) == 3  # one per request: each block is past the threshold
        by_site: dict[tuple[str, str, int], list[float]] = {}
        for seconds, *site in found:
            by_site.setdefault((site[0], site[1], site[2]), []).append(seconds)
        expected = []
        for (name, file, line), times in sorted(by_site.items(), key=lambda item: -sum(item[1])):
            where = f"{name} ({file}:{line})" if name else "where the monitor did not see"
            expected.append(f"{where}: {_ms(sum(times))} ms in {len(times)} span{'s' if len(times) != 1 else ''}")
            if name:
                assert (name, file) == (function, BLOCKING_APP.name) and line in lines
                seen += len(times)
        bar = bars.filter(has=page.locator(".label", has_text=label))
        assert bar.locator("ul.parts > li > span.part").all_text_contents() == expected
        # With each site the monitor saw, the call stack to it: the app's frames, outermost first, by module.
        for stack in bar.locator("ul.parts > li details.stack pre").all_text_contents():
            assert stack.splitlines() == _calls_to(function), stack
            stacks += 1
    assert seen > 0 and stacks > 0  # six blocks of 60 ms: the monitor saw where at least one was, and its stack
    assert "/" not in (page.locator("#blocking").text_content() or "")  # no machine path
    page.screenshot(path=str(_artifacts(tmp_path) / "html-blocking.png"), full_page=True)
    # Nothing was spent on models: the summary has no tokens or cost to show.
    assert report["spent"]["tokens"] == 0 and page.locator("article.spent").count() == 0


def test_report_from_a_saved_run_or_its_json_gives_the_same_figures(app_run: Run, browser: Browser) -> None:
    from_run = _cli("report", "--file", "app.run", "--format", "html", cwd=app_run.folder)
    assert from_run.returncode == 0, from_run.stderr
    (app_run.folder / "json.json").write_text(json.dumps(app_run.report))
    from_json = _cli("report", "--file", "json.json", "--format", "html", cwd=app_run.folder)
    assert from_json.returncode == 0, from_json.stderr
    tables, traces = [], []
    for name, text in (("report.html", from_run.stdout), ("from-json.html", from_json.stdout)):
        path = app_run.folder / name
        path.write_text(text)
        opened = _open(browser, path)
        opened.assert_quiet(path)
        tables.append(opened.page.locator("table.operations").text_content())
        traces.append(opened.page.locator("article.trace").count())
    assert tables[0] == tables[1]
    assert traces == [html_report.TRACES, 0]  # a report read back has no spans: no traces drawn


def test_compare_html_shows_the_causes_as_the_json_has_them(app_run: Run, browser: Browser, tmp_path: Path) -> None:
    more = _cli("run", "--save", "more.run", "--", sys.executable, str(APP), "12", "7", cwd=app_run.folder)
    assert more.returncode == 0, more.stderr
    as_json = _cli("compare", "app.run", "more.run", "--format", "json", cwd=app_run.folder)
    as_html = _cli("compare", "app.run", "more.run", "--format", "html", cwd=app_run.folder)
    as_text = _cli("compare", "app.run", "more.run", cwd=app_run.folder)
    assert as_json.returncode == as_html.returncode == as_text.returncode == 0, as_html.stderr
    comparison = json.loads(as_json.stdout)
    terminal = [line.strip() for line in as_text.stdout.splitlines()]
    path = app_run.folder / "compare.html"
    path.write_text(as_html.stdout)
    opened = _open(browser, path)
    opened.assert_quiet(path)
    page = opened.page
    assert page.locator("#summary li").all_text_contents() == [root["lead"] for root in comparison["roots"]]
    (root,) = comparison["roots"]
    bars = page.locator("section.root ul.bars > li")
    values = [float(v) for v in bars.evaluate_all("items => items.map(i => i.dataset.value)")]
    assert values == [cause["delta_seconds"] for cause in root["causes"]] + [root["residual_seconds"]]
    assert page.locator("section.root li .label").first.text_content() == (
        f"{root['causes'][0]['kind']} {root['causes'][0]['name']}"
    )
    # The explanation is the terminal's, line for line: the verdict, the latency, each cause with its parts.
    section = page.locator("section.root")
    assert f"{root['kind']} `{root['name']}`: {section.locator('p.verdict').text_content()}" in terminal
    for line in section.locator("h2 + p + ul > li").all_text_contents():
        assert line in terminal, line
    causes = bars.evaluate_all(
        """items => items.map(i => [i.querySelector('.label').textContent, i.querySelector('.figure').textContent,
        [...i.querySelectorAll('ul.parts > li')].map(p => p.textContent)])"""
    )
    shown = [f"{label}: {figure}" for label, figure, _ in causes]
    assert shown[:-1] == [line for line in terminal if line.endswith(" ms on the path]")]
    assert shown[-1] in terminal  # the residual
    (llm,) = [parts for label, _, parts in causes if label.startswith("llm ")]
    assert llm and llm[-1].startswith("residual: ") and all(part in terminal for part in llm)
    counted = page.locator("#counts li").all_text_contents()
    assert counted and all(line in terminal for line in counted)
    # The diagnoses, line for line as the terminal and the JSON give them.
    diagnosed = page.locator("#diagnoses li").all_text_contents()
    assert diagnosed == [diagnosis["line"] for diagnosis in comparison["diagnoses"]]
    assert diagnosed and all(line in terminal for line in diagnosed)
    assert page.locator("#counts p").all_text_contents()[0] in terminal
    page.screenshot(path=str(_artifacts(tmp_path) / "html-compare.png"), full_page=True)


def test_a_file_that_cannot_be_written_costs_the_html_only(tmp_path: Path) -> None:
    said = run.write_html(Received(), 3, tmp_path / "missing" / "report.html")
    assert said == f"otel-agentperf run: cannot write {tmp_path / 'missing' / 'report.html'}: No such file or directory"


@perf.tool
def _step(item: int) -> int:
    return item


@perf.agent(name="bulk")
def _bulk(steps: int, pause: float = 0.0) -> int:
    time.sleep(pause)
    return sum(_step(step) for step in range(steps))


@pytest.mark.repeat(1)  # ten thousand spans and a browser: once is enough under --count 2 (CI time)
def test_a_10000_span_run_gives_a_bounded_file_that_renders_within_the_bound(
    make_recorded: MakeRecorded, browser: Browser, tmp_path: Path
) -> None:
    recorded = make_recorded()
    _bulk(999, pause=0.5)  # one request of 1,000 spans, more than a waterfall draws, the slowest on any machine
    for _ in range(900):
        _bulk(9)  # and 900 of 10
    recorded.tracer_provider.force_flush()
    spans = recorded.exporter.get_finished_spans()
    assert len(spans) == 10_000
    metrics = recorded.reader.get_metrics_data()
    assert metrics is not None
    path = tmp_path / "bulk.run"
    with path.open("wb") as stream:
        saved.start(stream)
        saved.append(stream, "traces", encode_spans(spans).SerializeToString())
        saved.append(stream, "metrics", encode_metrics(metrics).SerializeToString())
    source = sources.from_file(path, slowest=10)  # as run keeps them: the slowest 10 (and a few more)
    assert source.received is not None
    rows = significant(source.rows)
    html = tmp_path / "bulk.html"
    kept = source.received.trace_requests()
    html.write_text(html_report.render(rows, bottlenecks(rows), kept, 10, seen=source.received.trace_count()))
    size = html.stat().st_size
    assert size <= MAX_BYTES
    opened = _open(browser, html)
    opened.assert_quiet(html)
    rendered = float(opened.page.evaluate("document.body.dataset.renderedMs"))
    print(f"10,000 spans: {size} bytes, rendered {rendered:.0f} ms after navigation started")
    assert rendered < MAX_RENDER_MS
    page = opened.page
    assert page.locator("#traces-drawn").text_content() == "10 of 901 traces drawn (the slowest); 891 left out."
    spans_left = 1000 - html_traces.MAX_SPANS
    # The long trace, wherever a loaded machine's pauses put it among the slowest: the only one cut short.
    left_out = page.locator("article.trace .left-out")
    assert left_out.count() == 1
    assert left_out.text_content() == f"{spans_left} more spans of this trace left out."
    assert page.locator("table.operations tbody tr").count() == 2
