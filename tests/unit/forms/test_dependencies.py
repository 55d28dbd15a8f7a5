"""The evaluation order of a form: everything after what it depends on; cycles named."""

from __future__ import annotations

import dataclasses

import pytest

from fieldscreen.forms.dependencies import DependencyCycle, build_graph, inputs_of
from fieldscreen.forms.expressions import parse_expression


def test_every_item_comes_after_its_inputs(shipped_form):
    graph = build_graph(shipped_form.items)
    known = frozenset(graph.order)
    assert sorted(graph.order) == sorted(item.name for item in shipped_form.items)
    for item in shipped_form.items:
        for source in inputs_of(item, known):
            assert graph.position[source] < graph.position[item.name], (source, item.name)


def test_affected_by_follows_dependents_transitively_in_order(mini_form):
    graph = build_graph(mini_form.items)
    affected = graph.affected_by("assent")
    assert affected[0] == "assent"
    # The group shown on assent, and everything inside it, depends on the answer.
    assert "main" in affected and len(affected) > 2
    assert affected == sorted(affected, key=graph.position.__getitem__)
    leaf = graph.order[-1]
    assert graph.affected_by(leaf)[0] == leaf


def test_a_circle_of_relevance_is_named_in_order(mini_form):
    first, second = _two_answered(mini_form)
    items = [
        dataclasses.replace(first, relevant=parse_expression(f"${{{second.name}}} = 'yes'")),
        dataclasses.replace(second, relevant=parse_expression(f"${{{first.name}}} = 'yes'")),
    ]
    with pytest.raises(DependencyCycle) as raised:
        build_graph(items)
    cycle = raised.value.cycle
    assert cycle[0] == cycle[-1] and set(cycle) == {first.name, second.name}
    assert " -> ".join(cycle) == str(raised.value)


def _two_answered(form):
    answered = [item for item in form.items if item.type.takes_answer and item.parent is None]
    return answered[0], answered[1]


def test_an_item_that_depends_on_a_later_one_is_evaluated_after_it(mini_form):
    first, second = _two_answered(mini_form)
    items = [dataclasses.replace(first, relevant=parse_expression(f"${{{second.name}}} = 'yes'")),
             second]
    graph = build_graph(items)
    assert graph.order == (second.name, first.name)
    assert graph.affected_by(second.name) == [second.name, first.name]
