"""A validator driven by the semantic conventions' own model YAML, for telemetry captured in-process.

The model files (vendored next to this module, see README.md) are read in either of the two formats the
conventions use: ``groups:`` (semconv v1.41) and ``file_format: definition/2`` (the GenAI repository).
Nothing here names a particular attribute's rules: requirement levels, types, enum members, span kinds,
span-name templates, units, instruments and metric attribute sets all come from the YAML, and advised
bucket boundaries from the documents that state them. Each rule applied to one span or metric point is
one check; a check that fails is a violation naming the telemetry and the rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from opentelemetry.sdk.metrics.export import Histogram, MetricsData, Sum
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

HERE = Path(__file__).resolve().parent
# The value the conventions name as the fallback of a low-cardinality attribute (``error.type``'s ``_OTHER``).
OTHER = "_OTHER"
# A span-name template in a span's note: **Span name** SHOULD be `{gen_ai.operation.name} {gen_ai.request.model}`
# (GenAI), or SHOULD follow the format `{mcp.method.name} {target}` (MCP).
_NAME_TEMPLATE = re.compile(r"\*\*Span name\*\* SHOULD (?:be|follow the format) `([^`]+)`")
# What a template's ``{target}`` is: "where target SHOULD match `{gen_ai.tool.name}` or `{gen_ai.prompt.name}`".
_TARGETS = re.compile(r"target SHOULD match ((?:`\{[a-z0-9_.]+\}`(?: or )?)+)")
# A condition that depends on another attribute: "If `server.address` is set."
_SET_CONDITION = re.compile(r"`([a-z0-9_.]+)` is set")
# Advised buckets in the metric documents: ### Metric: `name` ... ExplicitBucketBoundaries] of [ ... ].
# The MCP document writes the same as [`ExplicitBucketBoundaries`](link) of `[ ... ]`.
_BUCKETS = re.compile(
    r"### Metric: `([a-z0-9_.]+)`.*?\[`?ExplicitBucketBoundaries`?\](?:\([^)]*\))?\s+of\s*`?\[([^\]]+)\]", re.S
)
_KINDS: Mapping[SpanKind, str] = {SpanKind.CLIENT: "client", SpanKind.SERVER: "server", SpanKind.INTERNAL: "internal"}
_PRIMITIVES: Mapping[str, tuple[type, ...]] = {"string": (str,), "int": (int,), "double": (float,), "boolean": (bool,)}


@dataclass(frozen=True)
class Requirement:
    """One attribute of a span or metric definition, at its requirement level."""

    key: str
    level: str  # required, conditionally_required, recommended, opt_in
    condition: str = ""


@dataclass
class Definition:
    """A span or metric definition: its attributes resolved through groups, ``extends`` and refinements."""

    ident: str
    kind: str = ""  # span kind (client, internal), or the metric's instrument
    unit: str = ""
    name_template: str = ""
    name_targets: tuple[str, ...] = ()  # the attributes a template's ``{target}`` may be, first present wins
    extends: str = ""
    refs: list[Any] = field(default_factory=list)
    refines: Definition | None = None  # the general span a provider's refinement extends and overrides
    value_type: str = ""  # a metric's value type (``int``, ``double``), from its code-generation annotation


class Model:
    """The definitions and attribute registry of one or more model directories, later ones overriding."""

    def __init__(self, *directories: Path) -> None:
        self.registry: dict[str, Any] = {}  # attribute key -> its type (a name, or a list of enum members)
        self.groups: dict[str, Definition] = {}
        self.spans: dict[str, Definition] = {}
        self.metrics: dict[str, Definition] = {}
        self.buckets: dict[str, tuple[float, ...]] = {}
        for directory in directories:
            for path in sorted(directory.rglob("*.yaml")) if directory.is_dir() else [directory]:
                if path.suffix != ".yaml":
                    continue
                document = yaml.safe_load(path.read_text())
                if path.name == "advice.yaml":
                    self.buckets.update({name: tuple(map(float, b)) for name, b in document["buckets"].items()})
                elif document.get("file_format") == "definition/2":
                    self._read_v2(document)
                else:
                    self._read_groups(document.get("groups", []))
            for path in sorted(directory.rglob("*.md")) if directory.is_dir() else [directory]:
                if path.suffix != ".md":
                    continue
                for name, bounds in _BUCKETS.findall(path.read_text()):
                    self.buckets[name] = tuple(float(b) for b in bounds.split(","))

    def _read_groups(self, groups: Iterable[Mapping[str, Any]]) -> None:
        for group in groups:
            for attribute in group.get("attributes", []):
                if "id" in attribute and "type" in attribute:
                    self.registry[attribute["id"]] = _type_of(attribute["type"])
            definition = Definition(
                group["id"],
                kind=group.get("span_kind", group.get("instrument", "")),
                unit=group.get("unit", ""),
                name_template=_template(group.get("note", "")),
                name_targets=_targets(group.get("note", "")),
                extends=group.get("extends", ""),
                refs=[a for a in group.get("attributes", []) if "ref" in a],
                value_type=_value_type(group),
            )
            self.groups[group["id"]] = definition
            if group.get("type") == "span":
                self.spans[group["id"].removeprefix("span.")] = definition
            elif group.get("type") == "metric":
                self.metrics[group["metric_name"]] = definition

    def _read_v2(self, document: Mapping[str, Any]) -> None:
        for attribute in document.get("attributes", []):
            self.registry[attribute["key"]] = _type_of(attribute["type"])
        for group in document.get("attribute_groups", []):
            self.groups[group["id"]] = Definition(group["id"], refs=list(group.get("attributes", [])))
        for span in document.get("spans", []):
            note = (span.get("name") or {}).get("note", "")
            self.spans[span["type"]] = Definition(
                span["type"], kind=span["kind"], name_template=_template(note), refs=list(span.get("attributes", []))
            )
        for metric in document.get("metrics", []):
            self.metrics[metric["name"]] = Definition(
                metric["name"],
                kind=metric["instrument"],
                unit=metric["unit"],
                refs=list(metric.get("attributes", [])),
                value_type=_value_type(metric),
            )

    def requirements(self, definition: Definition) -> dict[str, Requirement]:
        """Every attribute of a definition by key: inherited first, its own refs (and their levels) last."""
        found: dict[str, Requirement] = {}
        if definition.refines is not None:
            found.update(self.requirements(definition.refines))
        if definition.extends:
            found.update(self.requirements(self.groups[definition.extends]))
        for ref in definition.refs:
            if "ref_group" in ref:
                found.update(self.requirements(self.groups[ref["ref_group"]]))
                continue
            level = ref.get("requirement_level")
            if level is None:  # a ref that only adds a note keeps the level it had
                found.setdefault(ref["ref"], Requirement(ref["ref"], "recommended"))
            elif isinstance(level, str):
                found[ref["ref"]] = Requirement(ref["ref"], level)
            else:
                (name, condition), *_ = level.items()
                found[ref["ref"]] = Requirement(ref["ref"], name, str(condition))
        return found

    def namespaces(self) -> frozenset[str]:
        """The attribute namespaces the vendored registry owns (``gen_ai``, ``server``, ``error``)."""
        return frozenset(key.split(".", 1)[0] for key in self.registry)


def _value_type(definition: Mapping[str, Any]) -> str:
    return str(((definition.get("annotations") or {}).get("code_generation") or {}).get("metric_value_type", ""))


def _type_of(declared: Any) -> Any:
    if isinstance(declared, Mapping):
        return [str(member["value"]) for member in declared["members"]]
    return str(declared)


def _template(note: str) -> str:
    match = _NAME_TEMPLATE.search(note or "")
    return match.group(1) if match else ""


def _targets(note: str) -> tuple[str, ...]:
    match = _TARGETS.search(note or "")
    return tuple(re.findall(r"\{([a-z0-9_.]+)\}", match.group(1))) if match else ()


@dataclass
class Report:
    """Checks made and the violations found; a violation names what was checked and the rule."""

    checks: int = 0
    violations: list[str] = field(default_factory=list)
    met: set[str] = field(default_factory=set)  # the definitions some telemetry was checked against

    def check(self, ok: bool, what: str) -> None:
        self.checks += 1
        if not ok:
            self.violations.append(what)

    @property
    def passed(self) -> int:
        return self.checks - len(self.violations)


class Validator:
    """Checks spans and metric points against a :class:`Model`.

    ``span_types`` maps a span's ``gen_ai.operation.name`` (and kind) to the model's span type, which is
    how the conventions themselves tell the spans apart; a provider-specific refinement
    (``span.openai.inference.client``) is preferred when the span's provider has one. ``protocol_spans``
    comes first: a span with a protocol's required attribute (``mcp.method.name``) is that protocol's span
    of its kind (``mcp.client``, ``mcp.server``), whatever its GenAI operation.
    """

    def __init__(
        self, model: Model, span_types: Mapping[str, str], protocol_spans: Mapping[str, Mapping[str, str]] | None = None
    ) -> None:
        self.model = model
        self.span_types = span_types
        self.protocol_spans = protocol_spans or {}
        self.namespaces = model.namespaces()

    def span_definition(self, span: ReadableSpan) -> Definition | None:
        attributes = span.attributes or {}
        kind = _KINDS.get(span.kind, "internal")
        for key, types in self.protocol_spans.items():
            if key in attributes and kind in types:
                return self.model.spans.get(types[kind])
        operation = str(attributes.get("gen_ai.operation.name", ""))
        kind = "client" if span.kind is SpanKind.CLIENT else "internal"
        base = self.span_types.get(f"{operation} {kind}") or self.span_types.get(operation)
        if base is None:
            return None
        general = self.model.spans.get(base)
        provider = str(attributes.get("gen_ai.provider.name", ""))
        if general is None or not provider:
            return general
        # The model names a provider's refinement of ``gen_ai.X`` as ``{provider}.X``.
        definition = self.model.spans.get(f"{provider}.{base.removeprefix('gen_ai.')}")
        if definition is None:
            return general
        # A refinement keeps what it does not restate: the kind, the span-name template, the attributes.
        template = definition.name_template or general.name_template
        kind = definition.kind or general.kind
        return Definition(
            definition.ident, kind, "", template, general.name_targets, definition.extends, definition.refs, general
        )

    def spans(self, spans: Sequence[ReadableSpan], report: Report) -> None:
        for span in spans:
            attributes = dict(span.attributes or {})
            definition = self.span_definition(span)
            subject = f"span {span.name!r}"
            if definition is None:  # an operation the conventions do not model: its GenAI attributes still are
                self._attributes(subject, attributes, {}, report, strict_enums=False)
                continue
            report.met.add(definition.ident)
            expected = {name: kind for kind, name in _KINDS.items()}.get(definition.kind, SpanKind.INTERNAL)
            report.check(
                span.kind is expected, f"{subject}: kind {span.kind.name}, {definition.ident} says {expected.name}"
            )
            if definition.name_template:
                report.check(
                    span.name == _render(definition.name_template, attributes, definition.name_targets),
                    f"{subject}: name, {definition.ident} says {definition.name_template!r}",
                )
            failed = span.status.status_code is StatusCode.ERROR
            self._attributes(subject, attributes, self.model.requirements(definition), report, failed=failed)

    def metrics(self, data: MetricsData | None, report: Report) -> None:
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    self._metric(metric, report)

    def _metric(self, metric: Any, report: Report) -> None:
        subject = f"metric {metric.name!r}"
        definition = self.model.metrics.get(metric.name)
        owned = metric.name.split(".", 1)[0] in self.namespaces
        if definition is None:
            report.check(not owned, f"{subject}: not defined by the conventions it claims the namespace of")
            for point in metric.data.data_points:
                self._attributes(subject, dict(point.attributes or {}), {}, report, strict_enums=False)
            return
        report.met.add(metric.name)
        report.check(
            _instrument(metric.data) == definition.kind, f"{subject}: instrument, model says {definition.kind}"
        )
        report.check(metric.unit == definition.unit, f"{subject}: unit {metric.unit!r}, model says {definition.unit!r}")
        advised = self.model.buckets.get(metric.name)
        requirements = self.model.requirements(definition)
        value_types = _PRIMITIVES.get(definition.value_type)
        for point in metric.data.data_points:
            attributes = dict(point.attributes or {})
            if value_types is not None:  # a counter's value, a histogram's sum: what was recorded adds up
                value = point.sum if isinstance(metric.data, Histogram) else point.value
                report.check(_scalar(value, value_types), f"{subject}: {value!r} is not {definition.value_type}")
            if advised is not None:
                bounds = tuple(float(b) for b in point.explicit_bounds)
                report.check(
                    len(bounds) == len(advised) and all(map(math.isclose, bounds, advised)),
                    f"{subject}: buckets {bounds}, advised {advised}",
                )
            self._attributes(subject, attributes, requirements, report, closed=True)

    def _attributes(
        self,
        subject: str,
        attributes: Mapping[str, Any],
        requirements: Mapping[str, Requirement],
        report: Report,
        *,
        failed: bool | None = None,
        closed: bool = False,
        strict_enums: bool = True,
    ) -> None:
        """Presence by requirement level, then the type and enum value of every attribute the registry has.

        ``closed``: a metric's attribute set is the definition's; an attribute of a namespace the conventions
        own that the definition does not list is a violation (the package's own ``agentperf.*`` are not).
        ``failed``: whether the span ended in an error (None for metric points, where it is not known).
        """
        for requirement in requirements.values():
            present = requirement.key in attributes
            if requirement.level == "required":
                report.check(present, f"{subject}: required {requirement.key} missing")
            elif requirement.level == "conditionally_required":
                depends = _SET_CONDITION.search(requirement.condition)
                if depends is not None:
                    if depends.group(1) in attributes:
                        report.check(present, f"{subject}: {requirement.key} missing ({requirement.condition})")
                elif "error code" in requirement.condition and failed is not None:  # a protocol's error code
                    report.check(failed or not present, f"{subject}: {requirement.key} set, but it did not fail")
                elif "error" in requirement.condition and failed is not None:
                    report.check(present == failed, f"{subject}: {requirement.key} set iff {requirement.condition}")
        for key, value in attributes.items():
            namespace = key.split(".", 1)[0]
            if closed and namespace in self.namespaces:
                report.check(key in requirements, f"{subject}: {key} is not one of its attributes")
            declared = self.model.registry.get(key)
            if declared is None:
                if namespace in self.namespaces and key.startswith("gen_ai."):
                    report.check(False, f"{subject}: {key} is not in the registry")
                continue
            report.check(_typed(value, declared), f"{subject}: {key}={value!r} is not {declared}")
            # An enum that lists the ``_OTHER`` fallback (``error.type``) expects the instrumentation's own values.
            if isinstance(declared, list) and strict_enums and OTHER not in declared:
                member = value in declared or value == OTHER
                report.check(member, f"{subject}: {key}={value!r} is not one of {declared}")


def _render(template: str, attributes: Mapping[str, Any], targets: Sequence[str] = ()) -> str:
    """A span-name template with its ``{attribute}`` parts filled in; parts without a value are dropped.

    ``{target}`` is the first of ``targets`` the span has (a tool's or a prompt's name).
    """
    target = next((str(attributes[key]) for key in targets if key in attributes), "")
    parts = [
        (target if word == "{target}" else str(attributes.get(word[1:-1], ""))) if word.startswith("{") else word
        for word in template.split()
    ]
    return " ".join(part for part in parts if part)


def _typed(value: Any, declared: Any) -> bool:
    if isinstance(declared, list):
        return isinstance(value, str)
    if declared == "any":
        return True
    if declared.endswith("[]"):
        item = _PRIMITIVES.get(declared[:-2], ())
        return isinstance(value, (tuple, list)) and all(_scalar(each, item) for each in value)
    return _scalar(value, _PRIMITIVES.get(declared, ()))


def _scalar(value: Any, types: tuple[type, ...]) -> bool:
    """An OpenTelemetry attribute of one of ``types``: a bool is not an int, an int is not a double."""
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def _instrument(data: Any) -> str:
    if isinstance(data, Histogram):
        return "histogram"
    if isinstance(data, Sum):
        return "counter" if data.is_monotonic else "updowncounter"
    return "gauge"
