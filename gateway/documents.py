"""GraphQL documents: each query text parsed once and checked once, before any work that grows
faster than the text does.

A text goes through, in order, each step only when the one before passed:

1. its length (`max_length`), before a character is read;
2. graphql-core's parser, which stops at `max_tokens` tokens (comments included);
3. one pass over the document (`measure`), with an explicit stack so that no nesting can
   exhaust Python's: the selection depth, aliases, fields with fragments expanded, fragment
   cycles and chains, introspection asked in good faith, and the pairs of same-named fields
   that the spec's overlapping-fields rule would compare — that rule's cost grows with the
   square of repeated fields (1,000 copies of one field cost over a second);
4. the spec's validation rules.

Parse and validation results are kept per text in an LRU bounded by an estimate of their
memory, so that a text sent again (a dashboard's refresh, a persisted query, an attacker's
loop) costs a dictionary lookup. Every refusal is a `GraphQLError` that already carries its
`extensions.code`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    specified_rules,
)
from graphql.language.parser import Parser
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule, validate
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
BAD_INPUT = "BAD_USER_INPUT"
# A fragment spread inside a fragment inside ... deeper than this is refused: the spec's
# cycle rule walks such chains recursively.
MAX_SPREAD_CHAIN = 64
# Pairs of same-named fields in one merged selection the overlapping-fields rule may compare
# (a few µs each): well above any real query, whose repeats come from a few fragments.
MAX_FIELD_PAIRS = 1_000
# Introspection in good faith: what GraphiQL and every client library ask for, and nothing
# that multiplies the type graph by itself (`types { fields { type { fields ...`).
INTROSPECTION_LISTS = frozenset({"types", "fields", "inputFields", "interfaces",
                                 "possibleTypes", "enumValues", "args", "directives"})
MAX_INTROSPECTION_LISTS_ON_A_PATH = 3  # types → fields → args
ONCE_IN_INTROSPECTION = frozenset({"__schema", "types", "directives"})
# Validation errors found before graphql-core stops (its own default is 100): each is located
# in the text, at a cost that grows with the lines before it.
MAX_ERRORS = 20
# Parse results kept, estimated at this many bytes of Python objects per character of text.
CACHE_BYTES = 32 * 1024 * 1024
# Python objects a parsed document holds per token (its nodes, and the token list its
# locations keep): about 420 bytes for GraphiQL's introspection, 600 for a list of names.
AST_BYTES_PER_TOKEN = 640
ERROR_BYTES = 4096  # a validation error kept with its text: message, locations, extensions


def refusal(message: str, code: str, nodes: Sequence[Node] | Node | None = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": code})


@dataclass(frozen=True)
class DocumentLimits:
    """What one document may hold. Each is checked before the spec's validation runs."""

    max_length: int = 65_536  # characters of query text
    max_tokens: int = 2_000
    max_depth: int = 15  # fields nested in fields
    max_aliases: int = 30
    max_fields: int = 2_000  # fields with every fragment spread expanded
    introspection: bool = True


@dataclass
class _Parsed:
    document: DocumentNode | None
    errors: list[GraphQLError] | None  # the parse error, or (later) the validation's
    validated: bool = False
    size: int = 0  # bytes it is estimated to hold (see AST_BYTES_PER_TOKEN)


def measure(document: DocumentNode, limits: DocumentLimits) -> GraphQLError | None:
    """The first limit the document breaks, or None. Linear in the fields it expands, and
    stops as soon as one limit is passed."""
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    aliases = sum(1 for node in _nodes(document.definitions)
                  if isinstance(node, FieldNode) and node.alias)
    if aliases > limits.max_aliases:
        return refusal(f"{aliases} aliases found; at most {limits.max_aliases} are allowed",
                       TOO_COMPLEX)
    cycle = _fragment_cycle(fragments)
    if cycle is not None:
        return cycle
    walk = _Walk(limits, fragments)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            chain = ((definition.name.value,) if isinstance(definition, FragmentDefinitionNode)
                     else ())
            error = walk.root(definition.selection_set, chain)
            if error is not None:
                return error
    return None


def _nodes(roots: Sequence[Node]) -> Iterator[Node]:
    """Every definition, field and fragment under `roots`, as written (spreads not followed)."""
    stack: list[Node] = list(roots)
    while stack:
        node = stack.pop()
        yield node
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)


def _fragment_cycle(fragments: dict[str, FragmentDefinitionNode]) -> GraphQLError | None:
    """The spec's "no fragment cycles", without its recursion: a depth-first walk of the
    graph of which fragment spreads which, on an explicit stack."""
    spreads = {name: [node for node in _nodes([fragment]) if isinstance(node, FragmentSpreadNode)]
               for name, fragment in fragments.items()}
    done: set[str] = set()
    for start in fragments:
        if start in done:
            continue
        on_path = {start}
        stack = [(start, iter(spreads[start]))]
        while stack:
            name, pending = stack[-1]
            spread = next(pending, None)
            if spread is None:
                stack.pop()
                on_path.discard(name)
                done.add(name)
                continue
            target = spread.name.value
            if target in on_path:
                return refusal(f'Cannot spread fragment "{target}" within itself.', BAD_INPUT,
                               spread)
            if target in fragments and target not in done:
                on_path.add(target)
                stack.append((target, iter(spreads[target])))
    return None


class _Walk:
    """Every selection of a root, fragments expanded, counted against the limits."""

    def __init__(self, limits: DocumentLimits, fragments: dict[str, FragmentDefinitionNode]
                 ) -> None:
        self.limits = limits
        self.fragments = fragments
        self.fields = 0
        self.pairs = 0
        self.seen_in_introspection: dict[str, int] = {}

    def root(self, selection_set: SelectionSetNode, chain: tuple[str, ...]) -> GraphQLError | None:
        # Fields of one response path share a merged selection: the overlapping-fields rule
        # compares each pair of them. Paths are numbered as they are met.
        path_ids: dict[tuple[int, str], int] = {}
        at_path: dict[int, int] = {}
        # (selections, depth, path id, fragment chain, introspection lists on the path)
        stack: list[tuple[Iterator[Node], int, int, tuple[str, ...], tuple[str, ...] | None]] = [
            (iter(selection_set.selections), 0, 0, chain, None)]
        while stack:
            selections, depth, path, chain, lists = stack[-1]
            node = next(selections, None)
            if node is None:
                stack.pop()
                continue
            # Spreads and inline fragments count as selections, as fields do: fragments that
            # only spread other fragments twice would otherwise expand 2**n times, countless.
            error = self._count(node, depth)
            if error is not None:
                return error
            if isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in chain:
                    return refusal(f'Cannot spread fragment "{name}" within itself.', BAD_INPUT,
                                   node)
                if len(chain) >= MAX_SPREAD_CHAIN:
                    return refusal(f"fragments are spread within fragments more than "
                                   f"{MAX_SPREAD_CHAIN} deep", TOO_COMPLEX, node)
                fragment = self.fragments.get(name)
                if fragment is not None:  # an unknown one is the spec rules' to report
                    stack.append((iter(fragment.selection_set.selections), depth, path,
                                  (*chain, name), lists))
                continue
            if isinstance(node, InlineFragmentNode):
                stack.append((iter(node.selection_set.selections), depth, path, chain, lists))
                continue
            if not isinstance(node, FieldNode):
                continue
            key = (path, node.alias.value if node.alias else node.name.value)
            child = path_ids.setdefault(key, len(path_ids) + 1)
            self.pairs += at_path.get(child, 0)
            at_path[child] = at_path.get(child, 0) + 1
            if self.pairs > MAX_FIELD_PAIRS:
                return refusal(f'the field "{key[1]}" is repeated too often in one selection '
                               f"to be checked (over {MAX_FIELD_PAIRS} pairs of same-named "
                               "fields); ask for each field once", TOO_COMPLEX, node)
            lists, error = self._introspection(node, lists)
            if error is not None:
                return error
            if node.selection_set is not None:
                stack.append((iter(node.selection_set.selections), depth + 1, child, chain,
                              lists))
        return None

    def _count(self, node: Node, depth: int) -> GraphQLError | None:
        if depth > self.limits.max_depth:
            return refusal(f"the query's depth (fields nested in fields) passes "
                           f"{self.limits.max_depth}", TOO_COMPLEX, node)
        self.fields += 1
        if self.fields > self.limits.max_fields:
            return refusal(f"the query selects more than {self.limits.max_fields} fields and "
                           "fragments (every spread expanded)", TOO_COMPLEX, node)
        return None

    def _introspection(self, node: FieldNode, lists: tuple[str, ...] | None
                       ) -> tuple[tuple[str, ...] | None, GraphQLError | None]:
        """The introspection lists on the path below `node` (None outside introspection)."""
        name = node.name.value
        if lists is None:
            if name not in ("__schema", "__type"):
                return None, None
            lists = ()
        if name in ONCE_IN_INTROSPECTION:
            seen = self.seen_in_introspection.get(name, 0) + 1
            self.seen_in_introspection[name] = seen
            if seen > 1:
                return lists, refusal(f'introspection asks for "{name}" more than once; ask '
                                      "for the schema once", TOO_COMPLEX, node)
        if name in INTROSPECTION_LISTS:
            if name in lists or len(lists) >= MAX_INTROSPECTION_LISTS_ON_A_PATH:
                return lists, refusal(
                    "introspection nests its lists too deeply "
                    f"({' → '.join((*lists, name))}); the schema's SDL is in one "
                    "introspection query", TOO_COMPLEX, node)
            lists = (*lists, name)
        return lists, None


class Documents:
    """Parse and validate query texts for one schema, each text once (see the module doc)."""

    def __init__(self, schema: GraphQLSchema, limits: DocumentLimits,
                 cache_bytes: int = CACHE_BYTES) -> None:
        self.schema = schema
        self.limits = limits
        # The spec's rules and the two strawberry adds (its own `validate_document` does not let
        # us lower graphql-core's bound on errors).
        rules: list[type[ASTValidationRule]] = [*specified_rules, MaybeNullValidationRule,
                                                OneOfInputValidationRule]
        if not limits.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self.rules = tuple(rules)
        self._cache: OrderedDict[str, _Parsed] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._bytes = 0
        self.parses = self.validations = 0  # texts read, and run through the spec's rules

    def parse(self, text: str) -> DocumentNode:
        """The document, or the GraphQLError (with its code) that refuses the text."""
        parsed = self._parsed(text)
        if parsed.document is None:
            assert parsed.errors
            raise _copy(parsed.errors[0])  # a kept exception raised again would grow its traceback
        return parsed.document

    def validate(self, text: str) -> list[GraphQLError]:
        """The errors of a text's document: the first limit it breaks, else the spec's."""
        parsed = self._parsed(text)
        if parsed.document is None:
            assert parsed.errors
            return parsed.errors
        if not parsed.validated:
            limit = measure(parsed.document, self.limits)
            if limit is not None:
                parsed.errors = [limit]
            else:
                self.validations += 1
                parsed.errors = [_coded(error, BAD_INPUT) for error in validate(
                    self.schema, parsed.document, self.rules, max_errors=MAX_ERRORS)]
            parsed.validated = True
            self._grew(text, parsed, ERROR_BYTES * len(parsed.errors))
        return [_copy(error) for error in parsed.errors or ()]

    def known(self, text: str) -> bool:
        """Whether this text was read before and is kept: reading it again costs nothing."""
        return text in self._cache

    def _parsed(self, text: str) -> _Parsed:
        found = self._cache.get(text)
        if found is not None:
            self._cache.move_to_end(text)
            return found
        if len(text) > self.limits.max_length:  # not kept: refused as cheaply every time
            return _Parsed(None, [refusal(
                f"the query is {len(text)} characters long; at most "
                f"{self.limits.max_length} are allowed", TOO_COMPLEX)])
        if text.count("\n") + text.count("\r") > self.limits.max_tokens:
            # A line holds a token or is empty: empty lines only make each error's location
            # cost more to find (graphql-core walks every line break before it).
            return _Parsed(None, [refusal(
                f"the query has more lines than the {self.limits.max_tokens} tokens it may "
                "hold", TOO_COMPLEX)])
        self.parses += 1
        try:
            document, tokens = _parse(text, self.limits.max_tokens)
            parsed = _Parsed(document, None, size=tokens * AST_BYTES_PER_TOKEN)
        except GraphQLError as error:
            # Kept without its traceback, whose frames would hold the text in a cycle.
            parsed = _Parsed(None, [error.with_traceback(None)], size=len(text))
        self._keep(text, parsed)
        return parsed

    def _keep(self, text: str, parsed: _Parsed) -> None:
        size = len(text) + parsed.size
        if size > self._cache_bytes // 8:
            return
        parsed.size = size
        self._cache[text] = parsed
        self._bytes += size
        while self._bytes > self._cache_bytes:
            _, old = self._cache.popitem(last=False)
            self._bytes -= old.size

    def _grew(self, text: str, parsed: _Parsed, size: int) -> None:
        """A kept text's entry holds `size` more bytes (its validation errors)."""
        if size and self._cache.get(text) is parsed:
            parsed.size += size
            self._bytes += size
            while self._bytes > self._cache_bytes and self._cache:
                _, old = self._cache.popitem(last=False)
                self._bytes -= old.size

    def __len__(self) -> int:
        return len(self._cache)


def _parse(text: str, max_tokens: int) -> tuple[DocumentNode, int]:
    """graphql-core's parser, its refusals coded: too many tokens, or too deep, is the query's
    size (QUERY_TOO_COMPLEX); anything else its syntax (BAD_USER_INPUT). The document, and the
    tokens it was read from."""
    parser = Parser(text, max_tokens=max_tokens)
    try:
        return parser.parse_document(), parser.token_count
    except RecursionError:
        pass  # refused below, outside this block, so that the recursion's frames are freed
    except GraphQLError as error:
        # "Parsing aborted." is graphql-core's ending for its resource limits and only them
        # (tokens, comments, length, nesting); the lexer raises the token limit while it skips
        # comments, before the parser's own count shows it.
        raise _coded(error, TOO_COMPLEX if error.message.endswith("Parsing aborted.")
                     else BAD_INPUT) from None
    raise refusal("the query is nested too deeply to be read", TOO_COMPLEX)


def _coded(error: GraphQLError, code: str) -> GraphQLError:
    return _copy(error, {**(error.extensions or {}), "code": code})


def _copy(error: GraphQLError, extensions: dict[str, Any] | None = None) -> GraphQLError:
    """The error again, its locations taken as they are: graphql-core finds a location's line
    by walking every line break before it, so recomputing them would cost each request
    (lines × errors) again."""
    copy = GraphQLError(error.message, extensions=extensions or error.extensions)
    copy.locations = error.locations
    return copy
