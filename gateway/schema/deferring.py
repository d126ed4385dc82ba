"""Which fragments are deferred (`@defer`), and when their work begins.

- Only in an operation that may answer in parts (its context has a `parts.PartsChannel`: an
  HTTP operation alone in its request, from a client that reads `multipart/mixed`). Any other
  operation is executed by graphql-core's base executor's ways, as if nothing were deferred,
  and answered whole (which `@defer` allows: a server may deliver a fragment with the part
  around it); nothing is added to its work per object.
- At most `max_deferred` fragments are delivered apart per operation (one per deferred
  fragment and object: 100 experiments that defer their series are 100). Each costs
  graphql-core a copy of the executor, a task, and a `pending` and a `completed` entry in the
  answer; past the bound, a fragment comes with the part that holds it, as if not deferred.
- Early: a deferred fragment's resolvers begin as soon as it is met, beside the first part's,
  rather than once the first part is complete. Their loads share the loaders' batches (a
  dashboard's series still cost one chart call per batch), and the last part comes one round of
  upstream calls sooner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql.execution import Executor
from graphql.execution.incremental import IncrementalExecutor

from .answer_size import BoundedExecutionContext
from .parts import channel_of

DEFAULT_MAX_DEFERRED = 1_000


class GatewayExecutionContext(BoundedExecutionContext):
    """The gateway's executor: an answer whole (this class), or in parts (`InParts`), as the
    operation's context allows."""

    # graphql-core's base executor's ways: nothing deferred, nothing added per object.
    execute_collected_root_fields = Executor.execute_collected_root_fields
    execute_collected_subfields = Executor.execute_collected_subfields  # type: ignore[assignment]

    @classmethod
    def build(cls, schema: Any, document: Any, root_value: Any = None,
              context_value: Any = None, *args: Any, **kwargs: Any) -> Any:
        chosen = InParts if channel_of(context_value) is not None else cls
        return super(GatewayExecutionContext, chosen).build(
            schema, document, root_value, context_value, *args, **kwargs)


class Deferred:
    """Fragments one operation has delivered apart so far (its executors share it)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class InParts(GatewayExecutionContext):
    """Fragments deferred, up to the bound, their work begun early (see the module's
    docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enable_early_execution = True
        settings = getattr(self.context_value, "settings", None)
        self._max_deferred = int(getattr(settings, "max_deferred", DEFAULT_MAX_DEFERRED))
        self._deferred = Deferred()  # shared by the copies made for deferred fragments

    def _defers(self, new_defer_usages: Sequence[Any]) -> bool:
        """Whether these newly met fragments are delivered apart (counted if so). Once one is
        not, none is: a fragment nested in one that was not deferred has no part to go to."""
        count = self._deferred.count + len(new_defer_usages)
        if count > self._max_deferred:
            self._deferred.count = self._max_deferred + 1
            return False
        self._deferred.count = count
        return True

    def execute_collected_root_fields(self, root_type: Any, root_value: Any,
                                      grouped_field_set: Any, serially: bool,
                                      new_defer_usages: Sequence[Any]) -> Any:
        execute = (IncrementalExecutor.execute_collected_root_fields
                   if not new_defer_usages or self._defers(new_defer_usages)
                   else Executor.execute_collected_root_fields)
        return execute(self, root_type, root_value, grouped_field_set, serially,
                       new_defer_usages)

    def execute_collected_subfields(self, parent_type: Any, source_value: Any, path: Any,
                                    grouped_field_set: Any, new_defer_usages: Sequence[Any],
                                    delivery_group_map: Any) -> Any:
        if not new_defer_usages or self._defers(new_defer_usages):
            return IncrementalExecutor.execute_collected_subfields(
                self, parent_type, source_value, path, grouped_field_set, new_defer_usages,
                delivery_group_map)
        # Past the bound: every field here comes in this part, and every field below it
        # (graphql-core's base executor's way), whatever fragment it was deferred with.
        return Executor.execute_collected_subfields(
            self, parent_type, source_value, path, grouped_field_set, new_defer_usages, None)
