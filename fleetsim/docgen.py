"""The reference pages of the documentation site, generated from the code.

The site's build (``mkdocs build``, through ``scripts/docs_hooks.py``) writes
:data:`GENERATED` pages from these functions, so the references cannot drift
from the code: the scenario file reference from the schema declaration
(:func:`fleetsim.scenario.reference.markdown`), the metrics reference from
:mod:`fleetsim.metrics.catalog`, and the table of built-in policies from the
policy classes (:func:`builtin_policies_markdown`).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable

__all__ = ["GENERATED", "action_types_in_source", "builtin_policies_markdown"]


def action_types_in_source(policy_cls: type) -> tuple[str, ...]:
    """The action types (``GoTo``, ``Route``, ...) a policy class's code constructs:
    calls to them in the modules of its classes (its bases up to
    :class:`fleetsim.policy.Policy` excluded) and in the modules of its own package
    that those import. Sorted."""
    from fleetsim.policy import ACTIONS, Policy

    names = {a.__name__ for a in ACTIONS}
    modules = []
    for klass in policy_cls.__mro__:
        if klass in (Policy, object) or not issubclass(klass, Policy):
            continue
        mod = inspect.getmodule(klass)
        if mod is not None and mod not in modules:
            modules.append(mod)
    package = policy_cls.__module__.rpartition(".")[0]
    found: set[str] = set()
    seen: set[str] = set()
    while modules:
        mod = modules.pop()
        if mod.__name__ in seen:
            continue
        seen.add(mod.__name__)
        tree = ast.parse(inspect.getsource(mod))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr \
                    if isinstance(f, ast.Attribute) else None
                if name in names:
                    found.add(name)
            elif isinstance(node, ast.ImportFrom) and node.module and package \
                    and node.module.startswith(package + ".") and node.level == 0:
                modules.append(importlib.import_module(node.module))
    return tuple(sorted(found))


def builtin_policies_markdown() -> str:
    """The page of built-in policies: what each is for, its oversight action classes,
    the action types its plans use, and its parameters."""
    import dataclasses

    from fleetsim.policy import BUILTIN_POLICIES, ENGINE_ACTION_CLASSES, policy_class

    lines = [
        "# Built-in policies",
        "",
        "Generated from the policy classes (`fleetsim policies` prints the same "
        "parameters). *Oversight classes* are the action classes the policy declares "
        "(`Policy.action_classes`): the scenario's `oversight.rules` may name these and "
        "the ones the engine raises itself (" +
        ", ".join(f"`{c}`" for c in sorted(ENGINE_ACTION_CLASSES)) +
        "). *Actions* are the action types its code constructs (read from its source; "
        "the conformance checker's run of every built-in policy must stay within them, "
        "`tests/test_checker.py`).",
        "",
        "| policy | for | oversight classes | actions | class |",
        "|---|---|---|---|---|",
    ]
    details = []
    for name in sorted(BUILTIN_POLICIES):
        cls = policy_class(name)
        declared = getattr(cls, "action_classes", None)
        classes = ", ".join(f"`{c}`" for c in sorted(declared)) if declared is not None \
            else "not declared"
        types = ", ".join(f"`{t}`" for t in action_types_in_source(cls))
        lines.append(f"| `{name}` | {cls.mission} | {classes} | {types} | "
                     f"`{BUILTIN_POLICIES[name]}` |")
        doc = inspect.getdoc(cls) or ""
        details += [f"## `{name}`", "", doc, ""]
        fields = dataclasses.fields(cls.Params) if dataclasses.is_dataclass(cls.Params) else ()
        if fields:
            details += ["| parameter | default | meaning |", "|---|---|---|"]
            for f in fields:
                default = f.default if f.default is not dataclasses.MISSING else "required"
                meaning = f.metadata.get("doc", "") if f.metadata else ""
                details.append(f"| `{f.name}` | `{default}` | {meaning} |")
            details.append("")
    return "\n".join(lines + [""] + details)


def _scenario() -> str:
    from fleetsim.scenario.reference import markdown

    return markdown()


def _metrics() -> str:
    from fleetsim.metrics.catalog import markdown

    return markdown()


#: Page path under ``docs/`` -> the function that writes it.
GENERATED: dict[str, Callable[[], str]] = {
    "reference/scenario.md": _scenario,
    "reference/metrics.md": _metrics,
    "reference/builtin-policies.md": builtin_policies_markdown,
}
