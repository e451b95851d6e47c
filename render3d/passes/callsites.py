"""Call sites as blocks: ops grouped by the Python function or loop iteration that issued them.

Why: function ops that run outside any submodule all share one module scope, so depth collapse
cannot group them: Mask R-CNN's mask pasting alone is ~3,300 ops at the top level, RAFT's refinement
loop hundreds more. The tracer records each op's *site* (:attr:`render3d.graph.Node.site`: the
function invocations and loop iterations between its container's ``forward`` and the op).

:func:`group_call_sites` turns every site into a *virtual module call* (type ``"function"`` or
``"loop"``) whose id reads like a module call's: ``roi_heads.postprocess_detections()#1``,
``forward·loop#3``, ``postprocess().paste_masks_in_image().paste_mask_in_image()#37``; sites that
group nothing are left out (a single member, a loop that ran once, or the container's forward
itself: ResNet's ``_forward_impl``, a decorator's wrapper). :func:`fit_call_sites` then decides how
each is drawn: repeated invocations fold ``×N``, glue code becomes one block, a helper that calls the
model's layers dissolves back into them. Collapse, :func:`~render3d.passes.repeats.fold_repeats`
and ``max_blocks`` treat what is left like any container.

Pure post-processing: ids depend only on execution order, and a trace without sites (a saved JSON)
comes back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TypeGuard

from render3d.graph import ModuleCall, Node, Trace
from render3d.passes.contract import block_node, contract, owners

#: ``ModuleCall.type`` of a grouped function invocation and of one loop iteration
FUNCTION = "function"
LOOP = "loop"
SITE_TYPES = frozenset({FUNCTION, LOOP})
#: ``Node.kind`` of a drawn site block: not a module call, so ``fold_repeats`` (which would fold two
#: different helpers with equal output shapes) and ``unfold_first`` leave it alone, and not an op, so
#: it is drawn as a box of its result rather than a tiny op glyph
CALL = "call"


@dataclass(eq=False)
class _Site:
    """One site under one container call, with its direct members in execution order."""

    name: str  # "postprocess()" or "forward·loop"
    parent: _Site | None
    items: list[str | _Site] = field(default_factory=list)  # node ids, container call ids, child sites
    id: str = ""
    path: str = ""


def _name(element: str) -> str:
    return element.rpartition("#")[0]


def _is_loop(name: str) -> bool:
    """Site names: ``"postprocess()"`` for a function, ``"forward·loop2"`` for a loop's iterations."""
    return not name.endswith("()")


def group_call_sites(trace: Trace) -> Trace:
    """``trace`` with a virtual module call for every site that groups something (module docstring)."""
    if not any(n.site for n in trace.nodes.values()) and not any(m.site for m in trace.modules.values()):
        return trace
    roots = _site_trees(trace)
    for top in roots.values():
        _prune(top, trace)
    site_of: dict[str, tuple[_Site, ...]] = {}  # node or call id -> kept sites around it, outermost first
    calls: list[_Site] = []
    counts: dict[str, int] = {}
    for container, top in roots.items():
        base = trace.modules[container].path if container else ""
        _number(top, base, (), counts, calls, site_of)
    return _with_sites(trace, calls, site_of)


def _site_trees(trace: Trace) -> dict[str, _Site]:
    """Per container call ("" for the model itself): a root :class:`_Site` holding its direct members,
    each under the site tree its ``site`` names."""
    roots: dict[str, _Site] = {}
    sites: dict[tuple[str, tuple[str, ...]], _Site] = {}

    def place(item: str, container: str, site: tuple[str, ...]) -> None:
        top = roots.get(container) or roots.setdefault(container, _Site("", None))
        here = top
        for k in range(len(site)):
            key = (container, site[: k + 1])
            child = sites.get(key)
            if child is None:
                child = sites[key] = _Site(_name(site[k]), here)
                here.items.append(child)
            here = child
        here.items.append(item)

    seen: set[str] = set()
    for node in trace.nodes.values():
        if node.kind in ("input", "output"):
            continue
        for k, call in enumerate(node.stack):
            if call not in seen and call in trace.modules:
                seen.add(call)
                place(call, node.stack[k - 1] if k else "", trace.modules[call].site)
        leaf = trace.modules.get(node.id)  # a leaf call, or a block made by collapse() (no site of its own)
        place(node.id, node.stack[-1] if node.stack else "", node.site or (leaf.site if leaf else ()))
    return roots


def _prune(top: _Site, trace: Trace) -> None:
    """Dissolve the sites that group nothing (:func:`_prune_children`), then any site that is the
    container's forward itself: its only member, or holding every module call of the container."""
    _prune_children(top, trace)
    modules = set(_module_items(top, trace))

    def is_forward(item: str | _Site) -> TypeGuard[_Site]:
        return isinstance(item, _Site) and (
            len(top.items) == 1 or bool(modules) and set(_module_items(item, trace)) == modules
        )

    while any(is_forward(item) for item in top.items):
        _dissolve(next(item for item in top.items if is_forward(item)))


def _prune_children(site: _Site, trace: Trace) -> None:
    """Post-order: dissolve a loop that ran once, and a site with a single member unless it is a loop
    iteration of one op (``x = x * 2`` three times still folds ``×3``)."""
    for item in list(site.items):
        if isinstance(item, _Site):
            _prune_children(item, trace)
            if len(item.items) == 1 and not (_is_loop(item.name) and _is_op(item.items[0], trace)):
                _dissolve(item)
    names = [item.name for item in site.items if isinstance(item, _Site)]
    for item in list(site.items):
        if isinstance(item, _Site) and _is_loop(item.name) and names.count(item.name) == 1:
            _dissolve(item)


def _is_op(item: str | _Site, trace: Trace) -> bool:
    return isinstance(item, str) and item not in trace.modules and trace.nodes[item].kind != "module"


def _dissolve(site: _Site) -> None:
    """Put ``site``'s members where it stood in its parent."""
    parent = site.parent
    assert parent is not None
    at = parent.items.index(site)
    parent.items[at : at + 1] = site.items
    for item in site.items:
        if isinstance(item, _Site):
            item.parent = parent


def _module_items(site: _Site, trace: Trace) -> list[str]:
    """Module calls (leaf module nodes and container calls) anywhere in ``site``'s tree."""
    out: list[str] = []
    for item in site.items:
        if isinstance(item, _Site):
            out.extend(_module_items(item, trace))
        elif item in trace.modules or trace.nodes[item].kind == "module":
            out.append(item)
    return out


def _number(
    site: _Site,
    path: str,
    around: tuple[_Site, ...],
    counts: dict[str, int],
    calls: list[_Site],
    site_of: dict[str, tuple[_Site, ...]],
) -> None:
    """Give every kept site its path and id (``<parent path>.<name>#<n>``), in execution order."""
    for item in site.items:
        if isinstance(item, _Site):
            item.path = f"{path}.{item.name}" if path else item.name
            n = counts[item.path] = counts.get(item.path, 0) + 1
            item.id = f"{item.path}#{n}"
            calls.append(item)
            _number(item, item.path, around + (item,), counts, calls, site_of)
        else:
            site_of[item] = around


def _with_sites(trace: Trace, calls: list[_Site], site_of: dict[str, tuple[_Site, ...]]) -> Trace:
    """The trace with every kept site in the stacks of what it holds and in ``modules``."""

    def expand(stack: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(i for c in stack for i in (*(s.id for s in site_of.get(c, ())), c))

    nodes = {
        nid: replace(n, stack=expand(n.stack) + tuple(s.id for s in site_of.get(nid, ())))
        for nid, n in trace.nodes.items()
    }
    modules = {
        cid: replace(m, stack=expand(m.stack) + tuple(s.id for s in site_of.get(cid, ())))
        for cid, m in trace.modules.items()
    }
    members = _members(nodes, {s.id for s in calls})
    children = trace.child_map()
    for s in calls:
        inside = set(members[s.id])
        leaving = [m for m in members[s.id] if any(c not in inside for c in children[m])]
        first = nodes[members[s.id][0]]
        modules[s.id] = ModuleCall(
            id=s.id,
            path=s.path,
            type=LOOP if _is_loop(s.name) else FUNCTION,
            call=int(s.id.rpartition("#")[2]),
            params=_leaf_params(nodes[m] for m in members[s.id]),
            # latest first: the block shows the function's result
            outputs=tuple(reversed(leaving)) or (members[s.id][-1],),
            stack=first.stack[: first.stack.index(s.id)],
        )
    return replace(trace, nodes=nodes, modules=modules)


def _members(nodes: dict[str, Node], calls: set[str]) -> dict[str, list[str]]:
    """Node ids inside each of ``calls``, in execution order."""
    out: dict[str, list[str]] = {c: [] for c in calls}
    for node in nodes.values():
        for c in node.stack:
            if c in out:
                out[c].append(node.id)
    return out


def _leaf_params(nodes: Iterable[Node]) -> int:
    """Parameters of the distinct modules among ``nodes`` (a module called in every iteration counts once)."""
    seen: dict[str, int] = {}
    for node in nodes:
        if node.kind == "module" and node.params:
            seen.setdefault(node.scope, node.params)
    return sum(seen.values())


# --- drawing sites: fold, contract, dissolve -------------------------------------------------------
def fit_call_sites(trace: Trace, *, fold: bool = True, min_repeats: int = 2) -> Trace:
    """Draw every site as what it is (sites from :func:`group_call_sites`), in this order:

    1. with ``fold``, runs of consecutive invocations of one site that did the same work become one
       block ``×N`` (RAFT's refinement loop, 100 masks pasted). Unlike
       :func:`~render3d.passes.repeats.fold_repeats` they need not feed each other and shapes may
       differ (each mask has its own box); op types, wiring, module types and parameter counts must
       match. The block keeps the first invocation's id, shows
       the last one's output and counts a module called by every iteration once;
    2. a site of several ops with no parameterised module and no attention inside is glue code (box
       decoding, post-processing): the outermost such becomes one block named after it;
    3. any other site is dissolved: a helper that calls the model's layers (timm's
       ``forward_features``) is structure that depth collapse already draws by module.

    Drawn sites are nodes of kind :data:`CALL`; no site is left among the module calls.
    """
    sites = {cid for cid, m in trace.modules.items() if m.type in SITE_TYPES}
    if not sites:
        return trace
    members = _members(trace.nodes, sites)
    runs = _runs(trace, members, min_repeats) if fold else {}
    block_of = {c: head for head, run in runs.items() for c in run}
    for cid in sorted(members, key=lambda c: len(trace.modules[c].stack)):  # outermost first
        if (
            cid not in block_of
            and not any(a in block_of for a in trace.modules[cid].stack)
            and len(members[cid]) > 1
            and _glue(trace.nodes[m] for m in members[cid])
        ):
            block_of[cid] = cid
    owner = owners(trace, block_of)
    nodes: dict[str, Node] = {}
    for node in trace.nodes.values():
        key = owner[node.id]
        if key == node.id:
            nodes[key] = replace(node, stack=_without(node.stack, members))
        elif key not in nodes:
            run = runs.get(key, [key])
            head = block_node(trace, key, node)
            last = block_node(trace, run[-1], trace.nodes[members[run[-1]][-1]])
            nodes[key] = replace(
                head,
                kind=CALL,
                stack=_without(head.stack, members),
                shape=last.shape,
                shapes=last.shapes,
                stats=last.stats,
                activation=last.activation,
                params=_leaf_params(trace.nodes[m] for c in run for m in members[c]),
                repeats=len(run),
                folded=tuple(run) if len(run) > 1 else (),
            )
    modules = {
        cid: replace(
            m, stack=_without(m.stack, members), outputs=tuple(dict.fromkeys(owner.get(o, o) for o in m.outputs))
        )
        for cid, m in trace.modules.items()
        if cid not in members
    }
    return replace(contract(trace, nodes, owner), modules=modules)


def _without(stack: tuple[str, ...], sites: dict[str, list[str]]) -> tuple[str, ...]:
    return tuple(c for c in stack if c not in sites) if any(c in sites for c in stack) else stack


def _glue(nodes: Iterable[Node]) -> bool:
    """True when ``nodes`` hold no parameterised module and no attention (softmax over heads, SDPA)."""
    for node in nodes:
        if node.kind == "module" and node.params:
            return False
        op = node.type.strip("_")
        if op == "scaled_dot_product_attention" or op == "softmax" and node.shape and len(node.shape) == 4:
            return False
    return True


def _runs(trace: Trace, members: dict[str, list[str]], min_repeats: int) -> dict[str, list[str]]:
    """Runs of consecutive invocations of one site with equal :func:`_signature`, by first call id."""
    parents = trace.parent_map()
    signatures: dict[str, tuple] = {}

    def signature(call: str) -> tuple:
        if call not in signatures:
            signatures[call] = (trace.modules[call].path, _signature(trace, call, members[call], parents))
        return signatures[call]

    runs: dict[str, list[str]] = {}
    for items in _direct_items(trace).values():
        run: list[str] = []
        for item in items + [""]:
            if run and item in members and signature(item) == signature(run[0]):
                run.append(item)
                continue
            if len(run) >= min_repeats:
                runs[run[0]] = run
            run = [item] if item in members else []
    return runs


def _direct_items(trace: Trace) -> dict[str, list[str]]:
    """Per container call ("" for the model): the calls and nodes directly inside, in execution order."""
    direct: dict[str, list[str]] = {}
    seen: set[str] = set()
    for node in trace.nodes.values():
        if node.kind in ("input", "output"):
            continue
        for k, item in enumerate((*node.stack, node.id)):
            if item not in seen:
                seen.add(item)
                direct.setdefault(node.stack[k - 1] if k else "", []).append(item)
    return direct


def _signature(trace: Trace, call: str, members: list[str], parents: dict[str, list[str]]) -> tuple:
    """What two invocations share when they did the same work: member kinds, types, parameter counts,
    the module types around each member, and the wiring (shapes left out)."""
    index = {m: i for i, m in enumerate(members)}
    inner = []
    for m in members:
        node = trace.nodes[m]
        below = node.stack[node.stack.index(call) + 1 :]
        around = tuple((trace.modules[c].type, trace.modules[c].params) for c in below if c in trace.modules)
        inner.append((node.kind, node.type, node.params, around))
    wiring = tuple(sorted((index.get(p, -1), index[m]) for m in members for p in parents[m]))
    return tuple(inner), wiring
