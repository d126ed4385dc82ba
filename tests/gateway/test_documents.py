"""Documents: each limit refuses with its code before the spec's validation runs, and each
text is parsed and validated once."""

from __future__ import annotations

import json

import pytest
from graphql import GraphQLError, get_introspection_query

from gateway.documents import MAX_FIELD_PAIRS, MAX_SPREAD_CHAIN, DocumentLimits, Documents
from gateway.schema import build_schema
from tests.gateway_server import GatewayServer

INTROSPECTION = get_introspection_query(
    descriptions=True, specified_by_url=True, directive_is_repeatable=True,
    schema_description=True, input_value_deprecation=True)
DASHBOARD = """
query Dashboard($workspace: String!, $project: String!) {
  project(workspace: $workspace, name: $project) {
    name
    experiments(first: 100) {
      edges { node { key name tags parameter(name: "lr") { valueCurrent }
                     metricSummary(name: "loss") { valueMin stepMin } } }
    }
  }
}"""


def documents(**limits: object) -> Documents:
    schema = build_schema()
    return Documents(schema._schema, DocumentLimits(**limits))  # type: ignore[arg-type]


def refused(docs: Documents, text: str) -> tuple[str, str]:
    errors = docs.validate(text)
    assert len(errors) == 1, errors
    return errors[0].extensions["code"], errors[0].message  # type: ignore[index,return-value]


def test_real_documents_pass() -> None:
    docs = documents()
    assert docs.validate(INTROSPECTION) == []
    assert docs.validate(DASHBOARD) == []


def test_a_text_is_parsed_and_validated_once() -> None:
    docs = documents()
    first = docs.parse(DASHBOARD)
    assert docs.validate(DASHBOARD) == [] and docs.validate(DASHBOARD) == []
    assert docs.parse(DASHBOARD) is first
    assert (docs.parses, docs.validations) == (1, 1)
    with pytest.raises(GraphQLError):
        docs.parse("{ viewer {")
    assert docs.validate("{ viewer {")[0].extensions == {"code": "BAD_USER_INPUT"}
    assert docs.parses == 2  # a refused text is kept too


def test_a_refusal_raised_again_is_a_new_exception() -> None:
    docs = documents()
    errors = []
    for _ in range(3):
        with pytest.raises(GraphQLError) as caught:
            docs.parse("{ viewer {")
        errors.append(caught.value)
    assert errors[0] is not errors[1] is not errors[2]


def test_length_is_refused_before_reading() -> None:
    docs = documents(max_length=100)
    assert refused(docs, "# " + "x" * 200 + "\n{ __typename }")[0] == "QUERY_TOO_COMPLEX"
    assert docs.parses == 0


def test_tokens_stop_the_parser() -> None:
    docs = documents(max_tokens=50)
    code, message = refused(docs, "{ viewer { " + "userName " * 60 + "} }")
    assert code == "QUERY_TOO_COMPLEX" and "50 tokens" in message
    # comments count: a document padded with comments is no cheaper to read
    assert refused(docs, "#c\n" * 60 + "{ __typename }")[0] == "QUERY_TOO_COMPLEX"
    assert docs.validate("{ viewer { " + "userName " * 40 + "} }") == []


def test_nesting_beyond_the_parser_is_too_complex_not_internal() -> None:
    docs = documents(max_tokens=100_000, max_length=1_000_000)
    assert refused(docs, "{" + "a{" * 3000 + "b" + "}" * 3000 + "}")[0] == "QUERY_TOO_COMPLEX"
    code, _ = refused(docs, "{ a(x: " + "[" * 3000 + "1" + "]" * 3000 + ") }")
    assert code == "QUERY_TOO_COMPLEX"


def test_depth_counts_introspection_too() -> None:
    docs = documents(max_depth=3)
    assert refused(docs, "{ viewer { defaultWorkspace { project(name: \"x\") { workspace "
                         "{ name } } } } }")[0] == "QUERY_TOO_COMPLEX"
    assert refused(docs, "{ __schema { queryType { fields { type { ofType { name } } } } } }"
                   )[0] == "QUERY_TOO_COMPLEX"
    assert docs.validate("{ viewer { defaultWorkspace { project(name: \"x\") { name } } } }") \
        == []


def test_aliases_are_counted_as_written() -> None:
    docs = documents(max_aliases=3)
    assert docs.validate("{ a: viewer { userName } b: viewer { userName } "
                         "c: viewer { userName } }") == []
    code, message = refused(docs, "{ a: viewer { userName } b: viewer { userName } "
                                  "c: viewer { userName } d: viewer { userName } }")
    assert code == "QUERY_TOO_COMPLEX" and "aliases" in message


def test_fields_are_counted_with_fragments_expanded() -> None:
    # Each fragment spreads the next twice: 2**12 fields from a 30-line document.
    levels = 12
    fragments = " ".join(f"fragment F{i} on Account {{ ...F{i + 1} ...F{i + 1} }}"
                         for i in range(levels))
    text = f"{{ viewer {{ ...F0 }} }} {fragments} fragment F{levels} on Account {{ userName }}"
    code, message = refused(documents(), text)
    assert code == "QUERY_TOO_COMPLEX" and "fields" in message


def test_repeated_fields_are_refused_before_the_quadratic_rule() -> None:
    docs = documents()
    repeats = int((2 * MAX_FIELD_PAIRS) ** 0.5) + 2  # their pairs pass the limit
    code, message = refused(docs, "{" + " viewer { userName }" * repeats + "}")
    assert code == "QUERY_TOO_COMPLEX" and "repeated" in message
    assert docs.validations == 0
    assert docs.validate("{" + " viewer { userName }" * 20 + "}") == []


def test_fragment_cycles_and_chains() -> None:
    docs = documents(max_tokens=100_000, max_length=1_000_000)
    cycle = ("{ ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}"
                                      for i in range(300)) + " fragment F300 on Query { ...F0 }")
    code, message = refused(docs, cycle)
    assert code == "BAD_USER_INPUT" and "within itself" in message
    chain = ("{ ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}"
                                      for i in range(MAX_SPREAD_CHAIN + 5))
             + f" fragment F{MAX_SPREAD_CHAIN + 5} on Query {{ __typename }}")
    code, message = refused(docs, chain)
    assert code == "QUERY_TOO_COMPLEX" and "deep" in message
    assert docs.validations == 0


def test_introspection_in_good_faith() -> None:
    docs = documents()
    for bomb in ("{ __schema { types { fields { type { fields { name } } } } } }",
                 "{ __schema { types { fields { args { type { possibleTypes { name } } } } } } }",
                 "{ a: __schema { types { name } } b: __schema { types { name } } }",
                 "{ __schema { a: types { name } b: types { name } } }"):
        assert refused(docs, bomb)[0] == "QUERY_TOO_COMPLEX", bomb
    assert docs.validate('{ __type(name: "Project") { fields { name args { name } } } }') == []


def test_introspection_can_be_switched_off() -> None:
    errors = documents(introspection=False).validate(INTROSPECTION)
    assert errors and {e.extensions["code"] for e in errors} == {"BAD_USER_INPUT"}  # type: ignore
    assert documents(introspection=False).validate("{ __typename }") == []


def test_the_gateway_parses_each_text_once(gateway: GatewayServer) -> None:
    state = gateway.server.config.app.state  # type: ignore[attr-defined]
    docs: Documents = state.documents
    text = '{ viewer { userName } } # parsed once: ' + str(id(gateway))
    parses = docs.parses
    body = json.dumps({"query": text}).encode()
    for _ in range(3):
        answer = gateway.http("POST", "/graphql", body, {
            "Content-Type": "application/json", "Authorization": gateway.default_key or ""})
        assert answer.status == 200 and "errors" not in answer.json()
    assert docs.parses == parses + 1


def test_spreads_count_even_when_they_select_nothing() -> None:
    # Each fragment spreads the next twice and the last names one that does not exist: no
    # field at all, yet 2**22 spreads to walk (6.8 s of CPU when spreads were not counted).
    levels = 22
    text = "{ ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}"
                                   for i in range(levels)) + f" fragment F{levels} on Query " \
                                                             "{ ...Nope }"
    docs = documents()
    code, message = refused(docs, text)
    assert code == "QUERY_TOO_COMPLEX" and "fragments" in message
    assert docs.validations == 0


def test_the_kept_documents_are_bounded_by_their_estimated_size() -> None:
    from gateway.documents import AST_BYTES_PER_TOKEN

    schema = build_schema()
    docs = Documents(schema._schema, DocumentLimits(), cache_bytes=120 * AST_BYTES_PER_TOKEN * 8)
    small = "{ viewer { " + "userName " * 95 + "} }"  # about 100 tokens: a ninth of the cache
    for i in range(20):
        docs.validate(f"# {i}\n{small}")
    assert 8 <= len(docs) <= 9  # the least recently used went
    large = "{ viewer { " + "userName " * 900 + "} }"  # over an eighth: read, not kept
    docs.validate(large)
    assert not docs.known(large) and docs.known(f"# 19\n{small}")
