"""`project/query` predicates and `project/column-names`, evaluated against demo experiments.

Predicates are what Comet's SDK sends (`comet_ml.query`): a list of
`{"source": ..., "query": {"condition": "AND"|"OR", "rules": [...]}}`, every entry of which must
hold; a rule is `{"field", "type", "operator", "value"}` or a nested group of rules, and may
carry its own `source` (the SDK's "nested" predicates do).
"""

from __future__ import annotations

import operator
from typing import Any

from .experiments import Experiment

NUMERIC = {"double", "datetime", "timenumber", "boolean"}
ORDER = {"equal": operator.eq, "not_equal": operator.ne, "less": operator.lt,
         "less_or_equal": operator.le, "greater": operator.gt, "greater_or_equal": operator.ge}


class PredicateError(ValueError):
    pass


def columns(experiments: list[Experiment]) -> list[dict[str, str]]:
    found: dict[tuple[str, str], str] = {}
    for e in experiments:
        for name in e.metrics:
            found[("metrics", name)] = "double"
        for name, value in e.params.items():
            found.setdefault(("params", name), "double" if _is_number(value) else "string")
        for name in e.others:
            found[("log_other", name)] = "string"
        for tag in e.tags:
            found[("tag", tag)] = "string"
    for name, kind in METADATA_TYPES.items():
        found[("metadata", name)] = kind
    for name in ENV_FIELDS:
        found[("env_details", name)] = "string"
    return [{"id": f"{name}-{source}", "name": name, "source": source, "type": kind}
            for (source, name), kind in sorted(found.items())]


METADATA_TYPES = {"experimentName": "string", "experimentKey": "string", "user_name": "string",
                  "start_server_timestamp": "datetime", "end_server_timestamp": "datetime",
                  "duration": "timenumber", "file_name": "string"}
ENV_FIELDS = {"hostname": "hostname", "os": "os", "os_type": "osType",
              "python_version": "pythonVersion", "user": "user"}


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _lookup(e: Experiment, source: str, field: str) -> Any:
    if source == "metrics":
        series = e.metrics.get(field)
        return series.points[-1].value if series else None
    if source == "params":
        return e.params.get(field)
    if source == "log_other":
        return e.others.get(field)
    if source == "tag":
        return field if field in e.tags else None
    if source == "metadata":
        return {"experimentName": e.name, "experimentKey": e.key, "user_name": e.owner,
                "start_server_timestamp": e.start, "end_server_timestamp": e.end,
                "duration": e.duration, "file_name": "train.py"}.get(field)
    if source == "env_details":
        return e.system.get(ENV_FIELDS.get(field, field))
    raise PredicateError(f"unknown predicate source {source!r}")


def _compare(actual: Any, op: str, expected: Any, kind: str) -> bool:
    if op in ("is_null", "is_not_null"):
        return (actual is None) == (op == "is_null")
    if op in ("is_empty", "is_not_empty"):
        return (actual in (None, "")) == (op == "is_empty")
    if actual is None:
        return op.startswith("not_")
    if op in ("between", "not_between"):
        low, high = (float(v) for v in expected)
        return (low <= float(actual) <= high) == (op == "between")
    text_ops = {"contains": str.__contains__, "begins_with": str.startswith,
                "ends_with": str.endswith}
    base = op[4:] if op.startswith("not_") and op[4:] in text_ops else op
    if base in text_ops:
        return text_ops[base](str(actual), str(expected)) != (base != op)
    a: float | str
    b: float | str
    if kind in NUMERIC and _is_number(actual) and _is_number(expected):
        a, b = float(actual), float(expected)
    else:
        a, b = str(actual), str(expected)
    if op not in ORDER:
        raise PredicateError(f"unknown operator {op!r}")
    return bool(ORDER[op](a, b))


def _group(e: Experiment, group: dict[str, Any], source: str) -> bool:
    rules = group.get("rules")
    if not isinstance(rules, list):
        raise PredicateError("a query needs a list of rules")
    results = []
    for rule in rules:
        if not isinstance(rule, dict):
            raise PredicateError("a rule must be an object")
        rule_source = rule.get("source", source)
        if "rules" in rule:
            results.append(_group(e, rule, rule_source))
        else:
            actual = _lookup(e, rule_source, str(rule.get("field")))
            results.append(_compare(actual, str(rule.get("operator")), rule.get("value"),
                                    str(rule.get("type", "string"))))
    combined = any(results) if str(group.get("condition", "AND")).upper() == "OR" else all(results)
    return not combined if group.get("not") else combined


def matches(e: Experiment, predicates: Any) -> bool:
    if predicates in (None, ""):
        return True
    if not isinstance(predicates, list):
        raise PredicateError("predicates must be a list")
    for predicate in predicates:
        if not isinstance(predicate, dict) or not isinstance(predicate.get("query"), dict):
            raise PredicateError("each predicate needs a source and a query")
        if not _group(e, predicate["query"], str(predicate.get("source"))):
            return False
    return True
