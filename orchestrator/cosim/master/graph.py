"""The connection graph between slaves: Gauss-Seidel order, direct-feedthrough order and algebraic loops.

Only direct-feedthrough edges can form algebraic loops: an edge A -> B exists when a connection from A drives an
input of B on which some output of B depends within the same step (SlaveInfo.direct_feedthrough; an output with
no entry depends on every input, as FMI 2.0 says for a missing dependency list).
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from orchestrator.cosim.slaves.base import Slave
from orchestrator.cosim.system import Connection


def feeds_through(slave: Slave, input_name: str) -> bool:
    """True if some output of ``slave`` depends directly on ``input_name``."""
    df = slave.info.direct_feedthrough
    for out in slave.outputs():
        deps = df.get(out.name)
        if deps is None or input_name in deps:
            return True
    return False


def _ordered_components(graph: nx.DiGraph, order: dict[str, int]) -> list[list[str]]:
    """Strongly connected components in topological order; ties and members in declaration order."""
    condensed = nx.condensation(graph)
    members = condensed.graph["mapping"]
    groups: dict[int, list[str]] = {}
    for node, comp in members.items():
        groups.setdefault(comp, []).append(node)
    for group in groups.values():
        group.sort(key=order.__getitem__)
    comps = nx.lexicographical_topological_sort(condensed, key=lambda c: min(order[n] for n in groups[c]))
    return [groups[c] for c in comps]


def gauss_seidel_order(slaves: Sequence[Slave], connections: Sequence[Connection]) -> list[str]:
    """Slave names so that, cycles aside, every slave steps after the slaves that drive it."""
    order = {s.name: i for i, s in enumerate(slaves)}
    graph = nx.DiGraph()
    graph.add_nodes_from(order)
    for c in connections:
        if c.source_slave != c.target_slave:
            graph.add_edge(c.source_slave, c.target_slave)
    return [name for comp in _ordered_components(graph, order) for name in comp]


def feedthrough_blocks(slaves: Sequence[Slave], connections: Sequence[Connection]) -> list[list[str]]:
    """Blocks of slaves to update at a communication point, in dependency order.

    A block of one slave needs its inputs set and outputs re-read; a block of several slaves (or one slave driving
    itself) is an algebraic loop to solve. Slaves none of whose connected inputs feed through are left out.
    """
    by_name = {s.name: s for s in slaves}
    order = {s.name: i for i, s in enumerate(slaves)}
    graph = nx.DiGraph()
    ft_slaves = set()
    for c in connections:
        if feeds_through(by_name[c.target_slave], c.target_var):
            ft_slaves.add(c.target_slave)
    graph.add_nodes_from(order)
    self_loops = set()
    for c in connections:
        if feeds_through(by_name[c.target_slave], c.target_var):
            graph.add_edge(c.source_slave, c.target_slave)
            if c.source_slave == c.target_slave:
                self_loops.add(c.source_slave)
    blocks = []
    for comp in _ordered_components(graph, order):
        if len(comp) > 1 or comp[0] in self_loops or comp[0] in ft_slaves:
            blocks.append(comp)
    return blocks


def is_loop(block: Sequence[str], connections: Sequence[Connection]) -> bool:
    """True if the block is an algebraic loop (several slaves, or one slave feeding its own input)."""
    if len(block) > 1:
        return True
    return any(c.source_slave == block[0] == c.target_slave for c in connections)
