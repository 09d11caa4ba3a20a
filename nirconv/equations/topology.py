"""The structure of a `Program` as the quantizer and the fit checker see it (docs/equations/targets.md).

    topo = Topology.of(program)
    topo.kind("fc1")                 # "weight", "structure", "neuron", "input", "output", ...
    topo.consumers("fc1")            # the non-structure ops it reaches through structure ops
    topo.incoming_weights("if1")     # the weight ops that feed a neuron op
    topo.back                        # the edges that close a cycle (see below)

Roles come from the NIR type an op was read from (`OpInfo.nir_type`, ``roles.ROLES``), else from
its class (``roles.op_role``): an inner subgraph's Input stays an ``input`` as it was in the file.
*Structure* ops (Flatten, pooling, Scale, Delay, Identity) only move or sum values; `consumers`
and `producers` walk through them.

``order`` is the program's own op order. ``back`` are the edges that close a cycle, found by the
same depth-first search from the inputs as the reader's (``reading/structure.py``): for a float
program whose reader moved a cycle's delay onto another edge of the cycle, these are still the
edges where the search closed it, which is where an integer program keeps its one-step delay.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from .program import Op, Program
from .roles import op_role, role


_KNOWN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Program -> Topology


def kind(op: Op) -> str:
    """The role of ``op``: by its NIR type when it has one, else by its class."""
    return role(op.info.nir_type) if op.info.nir_type else op_role(op)


@dataclass(frozen=True, eq=False)
class Topology:
    ops: dict  # name -> Op, in program order
    preds: dict  # name -> tuple of source names (the op's input edges, in order)
    succs: dict  # name -> tuple of destination names
    back: frozenset  # (src, dst) edges that close a cycle
    inputs: tuple = ()
    _kinds: dict = field(default_factory=dict, repr=False)
    _by_kind: dict = field(default_factory=dict, repr=False)
    _rank: dict = field(default_factory=dict, repr=False)
    _cyclic: list = field(default_factory=list, repr=False)  # [set of names on a cycle] once known

    @classmethod
    def of(cls, program: Program) -> "Topology":
        """The topology of ``program`` (computed once per Program object: both are frozen)."""
        found = _KNOWN.get(program)
        if found is None:
            found = _KNOWN[program] = cls._build(program)
        return found

    @classmethod
    def _build(cls, program: Program) -> "Topology":
        ops = {op.name: op for op in program.ops}
        preds = {name: tuple(e.src for e in op.inputs) for name, op in ops.items()}
        succs: dict = {name: [] for name in ops}
        for name, sources in preds.items():
            for s in sources:
                succs[s].append(name)
        succs = {name: tuple(d) for name, d in succs.items()}
        kinds = {name: kind(op) for name, op in ops.items()}
        by_kind: dict = {}
        for name, k in kinds.items():
            by_kind.setdefault(k, []).append(name)
        return cls(ops=ops, preds=preds, succs=succs,
                   back=back_edges(tuple(ops), tuple(program.inputs), succs),
                   inputs=tuple(program.inputs), _kinds=kinds, _by_kind=by_kind,
                   _rank={name: i for i, name in enumerate(ops)})

    @property
    def order(self) -> tuple:
        return tuple(self.ops)

    def rank(self, name: str) -> int:
        return self._rank[name]

    def kind(self, name: str) -> str:
        return self._kinds[name]

    def of_kind(self, k: str) -> list:
        """The ops of role ``k``, in program order."""
        return list(self._by_kind.get(k, ()))

    def reach(self, start: str, forward: bool) -> list:
        """The non-structure ops reached from ``start`` through structure ops only, in order."""
        step = self.succs if forward else self.preds
        found, stack, seen = set(), list(step[start]), set()
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            if self._kinds[n] == "structure":
                stack.extend(step[n])
            else:
                found.add(n)
        return sorted(found, key=self._rank.__getitem__)

    def consumers(self, name: str) -> list:
        return self.reach(name, forward=True)

    def producers(self, name: str) -> list:
        return self.reach(name, forward=False)

    def incoming_weights(self, neuron: str) -> list:
        return [n for n in self.producers(neuron) if self._kinds[n] == "weight"]

    def on_cycle(self, name: str) -> bool:
        """Is ``name`` on a cycle (does it reach itself)?"""
        if not self._cyclic:
            self._cyclic.append(cyclic_ops(self.ops, self.succs))
        return name in self._cyclic[0]


def back_edges(names: tuple, inputs: tuple, succs: dict) -> frozenset:
    """Edges that close a cycle in a depth-first search that starts at the inputs, then at every
    other op in ``names`` order, following ``succs`` in order (iterative: any depth)."""
    state: dict = {}  # 1: on the current path, 2: done
    back = set()
    firsts = set(inputs)
    for start in list(inputs) + [n for n in names if n not in firsts]:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(succs[start]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[node] = 2
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succs[nxt])))
    return frozenset(back)


def cyclic_ops(names, succs: dict) -> set:
    """The ops that lie on a cycle: members of a strongly connected component with more than one
    op, or with an edge to itself (Tarjan's algorithm, iterative)."""
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    found: set = set()
    counter = 0
    for root in names:
        if root in index:
            continue
        work = [(root, iter(succs[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succs[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in succs[node]:
                    found.update(component)
    return found
