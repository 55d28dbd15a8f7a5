"""The order in which a form's relevance and calculations are evaluated, and what depends on what.

An item's state (is it shown, what is its value) depends on its enclosing group, on the
items its `relevant` refers to and, for a calculate, on the items its calculation refers to.
Constraints are checked on demand and do not take part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from fieldscreen.forms.schema import Item


@dataclass(frozen=True, slots=True)
class EvaluationGraph:
    """Items in an order where everything comes after what it depends on."""

    order: tuple[str, ...]
    position: Mapping[str, int]
    dependents: Mapping[str, frozenset[str]]
    # Questions whose answer the form computes, in evaluation order.
    computed: tuple[str, ...] = ()

    def affected_by(self, name: str) -> list[str]:
        """`name` and everything that depends on it, directly or not, in evaluation order."""
        seen = {name}
        stack = [name]
        while stack:
            for dependent in self.dependents.get(stack.pop(), ()):
                if dependent not in seen:
                    seen.add(dependent)
                    stack.append(dependent)
        return sorted(seen, key=self.position.__getitem__)


class DependencyCycle(Exception):
    """Items whose states depend on each other in a circle; `cycle` names them in order."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__(" -> ".join(cycle))
        self.cycle = cycle


def inputs_of(item: Item, known: frozenset[str] | set[str]) -> set[str]:
    """The items whose state `item`'s state is computed from."""
    inputs: set[str] = set()
    if item.parent is not None:
        inputs.add(item.parent)
    if item.relevant is not None:
        inputs |= item.relevant.references
    if item.calculation is not None:
        inputs |= item.calculation.references
    if item.choice_filter is not None:
        # A filtered select's answer is dropped when its choice is no longer offered.
        inputs |= item.choice_filter.references
    return inputs & known


def build_graph(items: tuple[Item, ...] | list[Item]) -> EvaluationGraph:
    """Order `items` for evaluation, keeping document order where dependencies allow.

    Raises:
        DependencyCycle: when states depend on each other in a circle.
    """
    known = {item.name for item in items}
    inputs = {item.name: inputs_of(item, known) for item in items}
    dependents: dict[str, set[str]] = {name: set() for name in known}
    for name, sources in inputs.items():
        for source in sources:
            dependents[source].add(name)

    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: placed
    for item in items:
        if item.name in state:
            continue
        # Iterative depth-first search: a form may be deep enough to exhaust Python's stack.
        path: list[str] = [item.name]
        pending: list[list[str]] = [sorted(inputs[item.name])]
        state[item.name] = 1
        while path:
            if pending[-1]:
                source = pending[-1].pop()
                if state.get(source) == 1:
                    start = path.index(source)
                    raise DependencyCycle([*path[start:], source])
                if source not in state:
                    state[source] = 1
                    path.append(source)
                    pending.append(sorted(inputs[source]))
            else:
                done = path.pop()
                pending.pop()
                state[done] = 2
                order.append(done)
    computed_names = {item.name for item in items if item.is_computed}
    return EvaluationGraph(
        order=tuple(order),
        computed=tuple(name for name in order if name in computed_names),
        position=MappingProxyType({name: index for index, name in enumerate(order)}),
        dependents=MappingProxyType({k: frozenset(v) for k, v in dependents.items()}),
    )
