"""`ExperimentFilter` and `ExperimentOrder`: typed forms of Comet's project-query predicates and
the experiment list's sort, turned into what the REST API takes."""

from __future__ import annotations

import enum
import json
from typing import Any

import strawberry

from ..errors import BadUserInput


@strawberry.enum(description="Where a filtered value comes from (Comet's predicate sources).")
class QuerySource(enum.Enum):
    METRIC = "metrics"
    PARAMETER = "params"
    OTHER = "log_other"
    METADATA = "metadata"
    TAG = "tag"
    ENVIRONMENT = "env_details"


@strawberry.enum(description="How a rule compares (Comet's predicate operators).")
class QueryOperator(enum.Enum):
    EQUAL = "equal"
    NOT_EQUAL = "not_equal"
    LESS = "less"
    LESS_OR_EQUAL = "less_or_equal"
    GREATER = "greater"
    GREATER_OR_EQUAL = "greater_or_equal"
    BETWEEN = "between"
    NOT_BETWEEN = "not_between"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    BEGINS_WITH = "begins_with"
    NOT_BEGINS_WITH = "not_begins_with"
    ENDS_WITH = "ends_with"
    NOT_ENDS_WITH = "not_ends_with"
    IS_NULL = "is_null"
    IS_NOT_NULL = "is_not_null"
    IS_EMPTY = "is_empty"
    IS_NOT_EMPTY = "is_not_empty"


@strawberry.enum(description="The type a rule compares as (Comet's column types).")
class ColumnType(enum.Enum):
    DOUBLE = "double"
    STRING = "string"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    TIMENUMBER = "timenumber"


@strawberry.enum(description="How the rules of a filter combine.")
class FilterCondition(enum.Enum):
    AND = "AND"
    OR = "OR"


@strawberry.input(description="One comparison. For a tag, use source TAG, the tag as `field`, "
                              "and operator EQUAL.")
class ExperimentRule:
    source: QuerySource = strawberry.field(description="Where the value comes from.")
    field: str = strawberry.field(description="The metric, parameter, tag, ... name.")
    operator: QueryOperator = strawberry.field(description="How to compare.")
    value: str | None = strawberry.field(
        default=None, description="What to compare with (absent for the NULL/EMPTY tests).")
    values: list[str] | None = strawberry.field(
        default=None, description="The low and high bounds, for BETWEEN and NOT_BETWEEN.")
    type: ColumnType | None = strawberry.field(
        default=None, description="Compare as this type; by default DOUBLE for a number, "
                                  "else STRING.")


MAX_RULES = 50  # each goes into the project query's body upstream, at every level together
MAX_GROUP_DEPTH = 4  # groups within groups; Comet's UI nests far less


@strawberry.input(description=(
    "Which experiments to keep, run upstream by Comet's project query: `rules` and `groups` "
    "combined by `condition`. A group is a filter of its own, so AND and OR nest: "
    "`(A AND B) OR C` is `{condition: OR, rules: [C], groups: [{rules: [A, B]}]}`. Comet's "
    "predicate format nests groups within a query (its Python SDK sends them for `|` and `&`). "
    f"1 to {MAX_RULES} rules in all, groups at most {MAX_GROUP_DEPTH} deep, none empty."))
class ExperimentFilter:
    rules: list[ExperimentRule] = strawberry.field(
        default_factory=list, description="The comparisons at this level.")
    groups: list[ExperimentFilter] | None = strawberry.field(
        default=None, description="Nested filters, each combined by its own condition; "
                                  "their results combine with `rules` by `condition`.")
    condition: FilterCondition = strawberry.field(default=FilterCondition.AND,
                                                  description="AND (default) or OR.")


@strawberry.enum(description="What to sort experiments by.")
class ExperimentOrderField(enum.Enum):
    START_TIME = "startTime"
    END_TIME = "endTime"


@strawberry.enum(description="A sort direction.")
class OrderDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input(description="How to order a project's experiments.")
class ExperimentOrder:
    field: ExperimentOrderField = strawberry.field(description="What to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC,
                                                 description="Which way.")


def _rule(rule: ExperimentRule) -> dict[str, Any]:
    value: Any = rule.value
    if rule.operator in (QueryOperator.BETWEEN, QueryOperator.NOT_BETWEEN):
        if not rule.values or len(rule.values) != 2:
            raise BadUserInput(f"{rule.operator.name} needs `values`: [low, high]")
        value = list(rule.values)
    kind = rule.type
    if kind is None:
        try:
            float(str(rule.value))
            kind = ColumnType.DOUBLE
        except ValueError:
            kind = ColumnType.STRING
    return {"id": rule.field, "field": rule.field, "type": kind.value, "input": "text",
            "operator": rule.operator.value, "value": value}


def _check(where: ExperimentFilter) -> set[QuerySource]:
    """The sources the filter uses; BadUserInput if it breaks a bound. Walked level by level
    and given up at the first broken bound, so a huge input costs no more than the bound."""
    too_many = BadUserInput(f"an ExperimentFilter needs 1 to {MAX_RULES} rules")
    sources: set[QuerySource] = set()
    rules, level = 0, [where]
    for depth in range(MAX_GROUP_DEPTH + 2):
        if not level:
            break
        if depth > MAX_GROUP_DEPTH:
            raise BadUserInput(f"ExperimentFilter groups nest at most {MAX_GROUP_DEPTH} deep")
        below: list[ExperimentFilter] = []
        for f in level:
            if not f.rules and not f.groups:
                raise BadUserInput("an ExperimentFilter (or group) needs a rule or a group")
            rules += len(f.rules)
            below.extend(f.groups or ())
            # Every group holds a rule somewhere below it, so groups count towards the bound.
            if rules > MAX_RULES or len(below) > MAX_RULES:
                raise too_many
            sources.update(r.source for r in f.rules)
        level = below
    return sources


def _group(where: ExperimentFilter) -> dict[str, Any]:
    # Each rule names its source, as the SDK's "nested" predicates do, since a group may mix them.
    return {"condition": where.condition.value, "valid": True, "rules": [
        *({**_rule(r), "source": r.source.value} for r in where.rules),
        *(_group(g) for g in where.groups or ())]}


def predicates(where: ExperimentFilter) -> list[dict[str, Any]]:
    """The filter as the predicates `project/query` takes (the shape Comet's SDK sends)."""
    sources = _check(where)
    if where.groups:
        source = next(iter(sources)).value if len(sources) == 1 else "nested"
        return [{"source": source, "query": _group(where)}]
    if where.condition is FilterCondition.AND:
        return [{"source": s.value, "query": {"condition": "AND", "valid": True, "rules": [
            _rule(r) for r in where.rules if r.source == s]}}
            for s in sorted(sources, key=lambda s: s.value)]
    source = next(iter(sources)).value if len(sources) == 1 else "nested"
    return [{"source": source, "query": {"condition": "OR", "valid": True, "rules": [
        {**_rule(r), "source": r.source.value} for r in where.rules]}}]


def predicates_key(where: ExperimentFilter) -> str:
    return json.dumps(predicates(where), sort_keys=True)
