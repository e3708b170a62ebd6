// otel-agentperf's HTML report: draws the embedded JSON (figures and their texts as the terminal prints them).
// It computes no figure: it places texts, scales bars to the largest value shown, sorts and filters.
// Every string from the data goes in through textContent (el() below), never as markup.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("agentperf-data").textContent);
  const main = document.getElementById("report");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function section(id, title, ...children) {
    return el("section", { id: id, "aria-labelledby": id + "-title" }, el("h2", { id: id + "-title" }, title), children);
  }

  // Horizontal bars, each as wide as its value against the largest (negative values grow leftwards).
  function bars(items, name) {
    const largest = Math.max(0, ...items.map((item) => Math.abs(item.seconds))) || 1;
    const signed = items.some((item) => item.seconds < 0);
    return el(
      "ul",
      { class: "bars" + (signed ? " signed" : ""), "aria-label": name },
      items.map((item) => {
        const width = (100 * Math.abs(item.seconds)) / largest;
        const bar = el("span", {
          class: "bar" + (item.seconds < 0 ? " negative" : ""),
          style: "--w:" + width.toFixed(2) + "%",
        });
        return el(
          "li",
          { "data-value": item.seconds },
          el("span", { class: "label" }, item.label),
          el("span", { class: "track" }, bar),
          el("span", { class: "figure" }, item.text),
          item.parts && item.parts.length
            ? el(
                "ul",
                { class: "parts" },
                item.parts.map((part, i) =>
                  el(
                    "li",
                    {},
                    el("span", { class: "part" }, part),
                    item.stacks && item.stacks[i]
                      ? el("details", { class: "stack" }, el("summary", {}, "call stack"), el("pre", {}, item.stacks[i]))
                      : null
                  )
                )
              )
            : null
        );
      })
    );
  }

  function leftOut(count, what) {
    return count ? el("p", { class: "left-out" }, `${count} ${what} left out.`) : null;
  }

  // ---- run view -------------------------------------------------------------------------------------------
  // The whole run's model calls: tokens and cost, the JSON report's "spent".
  function spentFigures() {
    const spent = data.spent;
    const figures = spent.figures;
    if (!figures.tokens && !figures.priced_cost_usd && !figures.unpriced) return null;
    return el(
      "article",
      { class: "spent" },
      el("h3", {}, "The run's model calls"),
      el(
        "dl",
        { class: "figures" },
        [
          ["tokens", "tokens", figures.tokens, spent.total_text],
          ["in + out", "input_tokens", figures.input_tokens, spent.tokens_text],
          ["cost", "cost_usd", figures.cost_usd, spent.cost_text],
        ].map(([term, key, value, text]) =>
          el("div", {}, el("dt", {}, term), el("dd", { "data-figure": key, "data-value": value }, text))
        )
      )
    );
  }

  function requestsSection() {
    const spent = spentFigures();
    if (!data.requests.length && !spent) return null;
    return section(
      "requests",
      "Summary",
      spent,
      data.requests.length ? el("p", {}, "Latency per root, and where a request's wall time goes along its critical path (ms per request).") : null,
      data.requests.map((request, index) => {
        const figures = request.figures;
        const stack = el(
          "div",
          { class: "stack", role: "img", "aria-label": "critical path: " + request.parts.join(", ") },
          figures.critical_path.map((part, i) =>
            el("span", { class: "segment c" + (i % 8), style: "--w:" + part.share_percent + "%", title: request.parts[i] })
          )
        );
        return el(
          "article",
          { class: "request", "data-request": index },
          el("h3", {}, `${figures.kind} ${figures.name}`),
          el(
            "dl",
            { class: "figures" },
            [
              ["requests", "count", figures.count, request.text.count],
              ["p50 ms", "p50_seconds", figures.p50_seconds, request.text.p50],
              ["p95 ms", "p95_seconds", figures.p95_seconds, request.text.p95],
              ["mean ms", "mean_seconds", figures.mean_seconds, request.text.mean],
            ].map(([term, key, value, text]) =>
              el("div", {}, el("dt", {}, term), el("dd", { "data-figure": key, "data-value": value }, text))
            )
          ),
          stack,
          el(
            "ol",
            { class: "legend" },
            request.parts.map((part, i) => el("li", {}, el("span", { class: "swatch c" + (i % 8) }), part))
          )
        );
      })
    );
  }

  function spendingSection() {
    if (!data.spending.length) return null;
    return section(
      "spending",
      "Tokens and cost",
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "operation"), el("th", { scope: "col" }, "tokens"), el("th", { scope: "col" }, "cost"))),
        el(
          "tbody",
          {},
          data.spending.map((row) =>
            el(
              "tr",
              {},
              el("th", { scope: "row" }, `${row.kind} ${row.name}`),
              el("td", { "data-value": row.tokens }, row.tokens_text),
              el("td", { "data-value": row.cost_usd }, row.cost_text || "-")
            )
          )
        )
      )
    );
  }

  function timeSection() {
    if (!data.by_kind.length && !data.sentences.length) return null;
    return section(
      "time",
      "Where the time goes",
      data.sentences.map((line) => el("p", {}, line)),
      data.by_kind.length ? [el("h3", {}, "Own time by kind"), bars(data.by_kind, "own time by kind")] : null,
      data.by_operation.length
        ? [el("h3", {}, "Own time by operation"), bars(data.by_operation, "own time by operation"), leftOut(data.by_operation_left_out, "operations (in the table)")]
        : null
    );
  }

  function bottlenecksSection() {
    const sentences = data.report.bottlenecks;
    if (!sentences.length) return null;
    return section("bottlenecks", "Bottlenecks", el("ul", {}, sentences.map((line) => el("li", {}, line))));
  }

  function tableSection() {
    const table = data.table;
    const numeric = (value) => typeof value === "number";
    let sorted = { column: -1, descending: false };
    const body = el("tbody", {});
    const rows = table.rows.map((row) =>
      el(
        "tr",
        { "data-kind": row.values[0], "data-name": row.values[1] },
        row.cells.map((cell, i) =>
          i === 1
            ? el("th", { scope: "row" }, cell)
            : el("td", { class: numeric(row.values[i]) || cell === "-" ? "number" : null, "data-value": row.values[i] }, cell)
        )
      )
    );
    rows.forEach((tr, i) => (tr.values = table.rows[i].values));
    body.append(...rows);
    const heads = table.header.map((name, column) =>
      el(
        "th",
        { scope: "col", "aria-sort": "none" },
        el("button", { type: "button", onclick: () => sortBy(column) }, name)
      )
    );
    function sortBy(column) {
      const descending = sorted.column === column ? !sorted.descending : column >= 2;
      sorted = { column, descending };
      const key = (tr) => tr.values[column];
      const ordered = [...rows].sort((a, b) => {
        const x = key(a), y = key(b);
        if (x === null || x === undefined) return 1; // unknown last, either way
        if (y === null || y === undefined) return -1;
        const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
        return descending ? -order : order;
      });
      body.replaceChildren(...ordered);
      heads.forEach((th, i) => th.setAttribute("aria-sort", i === column ? (descending ? "descending" : "ascending") : "none"));
    }
    const count = el("output", { id: "table-count", "aria-live": "polite" }, `${rows.length} of ${rows.length} operations`);
    const filter = el("input", { type: "search", id: "table-filter", placeholder: "kind or name", autocomplete: "off" });
    filter.addEventListener("input", () => {
      const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const tr of rows) {
        const text = (tr.dataset.kind + " " + tr.dataset.name).toLowerCase();
        const match = words.every((word) => text.includes(word));
        tr.hidden = !match;
        shown += match ? 1 : 0;
      }
      count.textContent = `${shown} of ${rows.length} operations`;
    });
    return section(
      "operations",
      "Operations",
      el("p", {}, table.order),
      el("p", { class: "controls" }, el("label", { for: "table-filter" }, "Filter: "), filter, " ", count),
      el("div", { class: "scroll" }, el("table", { class: "operations" }, el("thead", {}, el("tr", {}, heads)), body))
    );
  }

  function blockingSection() {
    if (!data.blocking.length) return null;
    return section(
      "blocking",
      "Event-loop blocking",
      el(
        "p",
        {},
        "What held an event loop (ms): operations and the application code outside them (named module:function). " +
          "Under an operation, where the loop monitor saw it held the loop past the threshold (function, file and line), " +
          "from the spans of the traces this report holds."
      ),
      bars(data.blocking, "held the event loop")
    );
  }

  function retrySection() {
    const timeline = data.retry_timeline;
    if (!data.retried.length && !(timeline && timeline.calls.length)) return null;
    return section(
      "retries",
      "Retries",
      el("ul", {}, data.retried.map((row) => el("li", {}, el("strong", {}, row.label), ": ", row.text))),
      timeline && timeline.calls.length
        ? [
            el("h3", {}, "Retried calls, attempt by attempt"),
            el("p", {}, `${timeline.calls.length} of ${timeline.total} retried calls drawn; each failed attempt is a red mark on its call's time, the last attempt (the one that answered) a blue one.`),
            el(
              "ol",
              { class: "timeline" },
              timeline.calls.map((call) =>
                el(
                  "li",
                  {},
                  el("span", { class: "label" }, `${call.name} (${call.duration_text} ms)`),
                  el(
                    "span",
                    { class: "track" },
                    call.last
                      ? el("span", {
                          class: "attempt last",
                          style: `--x:${((100 * call.last.start) / (call.duration || 1)).toFixed(2)}%;--w:${((100 * (call.last.end - call.last.start)) / (call.duration || 1)).toFixed(2)}%`,
                          title: call.last.text,
                        })
                      : null,
                    call.attempts.map((attempt) =>
                      el("span", {
                        class: "attempt",
                        style: `--x:${((100 * attempt.start) / (call.duration || 1)).toFixed(2)}%;--w:${((100 * (attempt.end - attempt.start)) / (call.duration || 1)).toFixed(2)}%`,
                        title: `${attempt.text} ms: ${attempt.reason}`,
                      })
                    )
                  ),
                  el(
                    "span",
                    { class: "figure" },
                    call.attempts.map((a) => `${a.text} ms ${a.reason}`).join("; "),
                    call.last ? el("span", { class: "last-attempt" }, "; " + call.last.text) : null,
                    document.getElementById("trace-" + call.trace) ? [" ", el("a", { href: "#trace-" + call.trace }, "its trace")] : null
                  )
                )
              )
            ),
            leftOut(timeline.left_out, "retried calls"),
          ]
        : null
    );
  }

  function attributesPanel(span) {
    return [
      el("h4", {}, span.name),
      el(
        "dl",
        { class: "attributes" },
        [
          ["start ms", span.text.start],
          ["duration ms", span.text.duration],
          ["self ms", span.text.self],
          ["waited ms", span.text.waited || "-"],
          ["critical path ms", span.text.path || "-"],
          ["status", span.error ? "error" : "ok"],
        ].map(([key, value]) => el("div", {}, el("dt", {}, key), el("dd", {}, value)))
      ),
      el("h5", {}, "Attributes"),
      span.attributes.length
        ? el("dl", { class: "attributes" }, span.attributes.map(([key, value]) => el("div", {}, el("dt", {}, key), el("dd", {}, value))))
        : el("p", {}, "none"),
      span.events.length
        ? [
            el("h5", {}, "Events"),
            el(
              "ul",
              {},
              span.events.map((event) =>
                el("li", {}, `${event.name} at +${(event.time / 1e6).toFixed(1)} ms`, event.attributes.length ? ": " + event.attributes.map(([k, v]) => `${k}=${v}`).join(", ") : "")
              )
            ),
          ]
        : null
    ];
  }

  function waterfall(trace, index) {
    const panel = el("aside", { class: "span-details", "aria-live": "polite" }, el("p", {}, "Select a span to see its attributes."));
    const items = [];
    const list = el("ul", { class: "waterfall", "aria-label": `trace ${trace.id}` });
    trace.spans.forEach((span, i) => {
      const hasChildren = i + 1 < trace.spans.length && trace.spans[i + 1].parent === i;
      const left = (100 * span.start) / (trace.duration || 1);
      const width = Math.max((100 * span.duration) / (trace.duration || 1), 0.3);
      const waited = span.duration ? (100 * Math.min(span.waited, span.duration)) / span.duration : 0;
      const toggle = hasChildren
        ? el("button", { type: "button", class: "toggle", "aria-expanded": "true", "aria-label": "collapse " + span.name }, "▾")
        : el("span", { class: "toggle" });
      const name = el("button", { type: "button", class: "span-name", "data-span": i, title: span.name }, span.name);
      const item = el(
        "li",
        {
          class: (span.path ? "on-path" : "") + (span.error ? " error" : ""),
          "data-parent": span.parent,
          style: "--depth:" + span.depth,
        },
        el("span", { class: "times" }, el("span", {}, span.text.start), el("span", {}, span.text.duration), el("span", {}, span.text.path)),
        el("span", { class: "name" }, toggle, name, span.error ? el("span", { class: "badge" }, "error") : null),
        el("span", { class: "track" }, el("span", { class: "bar", style: `--x:${left.toFixed(3)}%;--w:${width.toFixed(3)}%;--wait-share:${waited.toFixed(1)}%` }))
      );
      name.addEventListener("click", () => {
        list.querySelectorAll(".selected").forEach((node) => node.classList.remove("selected"));
        item.classList.add("selected");
        panel.replaceChildren(...attributesPanel(span).flat().filter(Boolean));
      });
      if (hasChildren) {
        toggle.addEventListener("click", () => {
          const open = toggle.getAttribute("aria-expanded") !== "true";
          toggle.setAttribute("aria-expanded", String(open));
          toggle.setAttribute("aria-label", (open ? "collapse " : "expand ") + span.name);
          toggle.textContent = open ? "▾" : "▸";
          setHidden(i, !open);
        });
      }
      items.push(item);
    });
    // Hide or show a span's descendants (a shown one stays hidden under a collapsed child).
    function setHidden(parent, hidden) {
      for (let i = parent + 1; i < trace.spans.length; i++) {
        if (trace.spans[i].depth <= trace.spans[parent].depth) break;
        const ancestorCollapsed = (j) => {
          for (let p = trace.spans[j].parent; p !== parent && p >= 0; p = trace.spans[p].parent) {
            const toggle = items[p].querySelector("button.toggle");
            if (toggle && toggle.getAttribute("aria-expanded") === "false") return true;
          }
          return false;
        };
        items[i].hidden = hidden || ancestorCollapsed(i);
      }
    }
    list.append(...items);
    return el(
      "article",
      { class: "trace", "data-trace": index, id: "trace-" + trace.id },
      el("h3", {}, `trace ${trace.id}`, " ", el("small", {}, `${trace.duration_text} ms, ${trace.span_count} spans`)),
      el("p", { class: "columns", "aria-hidden": "true" }, el("span", { class: "times" }, el("span", {}, "start ms"), el("span", {}, "dur ms"), el("span", {}, "path ms")), el("span", {}, "span (highlighted: on the critical path)")),
      el("div", { class: "trace-body" }, list, panel),
      leftOut(trace.left_out, "more spans of this trace")
    );
  }

  function tracesSection() {
    const found = data.traces;
    if (!found) return null;
    if (!found.traces.length) return section("traces", "Slowest traces", el("p", {}, "No spans were received."));
    return section(
      "traces",
      "Slowest traces",
      el("p", { id: "traces-drawn" }, `${found.traces.length} of ${found.total} traces drawn (the slowest); ${found.left_out} left out.`),
      found.traces.map(waterfall)
    );
  }

  function runView() {
    const traces = tracesSection();
    main.replaceChildren(...[requestsSection(), spendingSection(), timeSection(), bottlenecksSection(), tableSection(), blockingSection()].filter(Boolean));
    if (traces) main.append(traces); // drawn before the retries, which link to a call's trace when it is drawn
    const retries = retrySection();
    if (retries) main.insertBefore(retries, traces);
  }

  // ---- compare view ---------------------------------------------------------------------------------------
  function compareView() {
    const comparison = data.comparison;
    const parts = [
      section(
        "summary",
        "What changed",
        el("p", {}, `${comparison.base} → ${comparison.new}`),
        data.leads.length ? el("ul", {}, data.leads.map((line) => el("li", {}, line))) : el("p", {}, "No root (request kind and name) is in both runs: nothing to compare.")
      ),
      ...data.roots.map((root, index) =>
        el(
          "section",
          { class: "root", "data-root": index, "aria-labelledby": "root-" + index },
          el("h2", { id: "root-" + index }, root.title),
          el("p", { class: "verdict" + (root.figures.test.significant ? " significant" : "") }, root.verdict),
          el("ul", {}, root.latency.map((line) => el("li", {}, line))),
          el("h3", {}, "Causes: Δ critical-path time per request (with the residual they add up to the mean's Δ)"),
          bars(root.causes, "causes of the change")
        )
      ),
      section(
        "counts",
        "Per request",
        data.counts.map((group) => [el("p", {}, group.heading), el("ul", {}, group.lines.map((line) => el("li", {}, line)))])
      ),
      data.diagnoses.length
        ? section(
            "diagnoses",
            "Diagnoses (as the report gives them, per request; the largest change first)",
            el("ul", {}, data.diagnoses.map((line) => el("li", {}, line)))
          )
        : null,
      comparison.notes.length ? section("notes", "Notes", el("ul", {}, comparison.notes.map((note) => el("li", {}, note)))) : null,
    ];
    main.replaceChildren(...parts.filter(Boolean));
  }

  (document.body.dataset.view === "compare" ? compareView : runView)();
  performance.mark("agentperf-rendered");
  document.body.dataset.renderedMs = performance.now().toFixed(1);
})();
