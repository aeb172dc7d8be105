"""Static checks of a template version before it can be submitted for review.

Rendering would find most of these problems too, but only for the values and branches of one
render, and only once partners are sending. The lint reads the template's syntax tree, so it
sees every branch, names the line, and runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, nodes

from content.budget import MAX_CALL_DEPTH, MAX_FILTER_WIDTH, MAX_INT_BITS, MAX_ITEMS
from content.render import HTML_PARTS, Part, Renderer
from content.sandbox import NestingTooDeep
from content.sizes import huge_format
from content.spec import PARTNER_FIELDS, TemplateContent

TOP_LEVEL = frozenset(
    {
        "slots",
        "partner",
        "recipient",
        "unsubscribe_url",
        "preferences_url",
        "brand",
        "campaign",
        "blocks",
        "fragments",
    }
)
# Keys of the context dicts; anything else is undefined at render time (StrictUndefined).
KNOWN_KEYS: dict[str, frozenset[str]] = {
    "partner": frozenset({*PARTNER_FIELDS, "social"}),
    "recipient": frozenset({"first_name", "last_name", "email", "locale"}),
    "brand": frozenset({"name", "palette"}),
    "campaign": frozenset({"name"}),
    "blocks": frozenset({"header", "footer"}),
}
DICT_READERS = frozenset({"items", "keys", "values", "get"})
# Jinja globals and template internals that reach beyond the template's data.
DISALLOWED_NAMES = frozenset({"self", "cycler", "joiner", "namespace", "lipsum", "dict"})
DISALLOWED_FILTERS = frozenset({"attr"})
DISALLOWED_TAGS: dict[type[nodes.Node], str] = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}
MAX_LITERAL_RANGE = 1_000
# `"-" * 40` draws a separator; `"x" * 1000000` is a memory bomb the render would refuse.
MAX_LITERAL_REPEAT = 10_000
MAX_LITERAL_WIDTH = 10_000  # as for widths in format strings
WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "to_bytes"})
FORMAT_METHODS = frozenset({"format", "format_map"})
WIDTH_FILTERS = {"center": MAX_FILTER_WIDTH, "indent": MAX_FILTER_WIDTH}
COUNT_FILTERS = {"batch": "linecount", "slice": "slices"}  # name of the count argument
HUGE_FORMAT = (
    "a width or precision of 10000 or more (or taken from an argument) in a format string "
    "is refused when rendering."
)
# Lint only parses (and generates code, never runs it); one renderer's environments suffice.
_RENDERER = Renderer(cache_size=1)


@dataclass(frozen=True)
class LintIssue:
    part: str  # "email.html", ..., or "slots" for findings about the declarations
    line: int | None
    code: str
    message: str


def _sources(content: TemplateContent) -> list[tuple[Part, str]]:
    parts: list[tuple[Part, str]] = []
    if content.email is not None:
        parts += [
            ("email.subject", content.email.subject),
            ("email.preheader", content.email.preheader),
            ("email.html", content.email.html),
            ("email.text", content.email.text),
        ]
    if content.sms is not None:
        parts.append(("sms.text", content.sms.text))
    if content.print is not None:
        parts.append(("print.html", content.print.html))
    return [(part, source) for part, source in parts if source]


def _literal_int(node: nodes.Node | None) -> int | None:
    if isinstance(node, nodes.Const) and type(node.value) is int:
        return node.value
    return None


def _argument(node: nodes.Call | nodes.Filter, index: int, name: str) -> nodes.Expr | None:
    if len(node.args) > index:
        return node.args[index]
    return next((k.value for k in node.kwargs if k.key == name), None)


def _huge_literal_format(node: nodes.Node | None) -> bool:
    return isinstance(node, nodes.Const) and huge_format(node.value)


def _recursive_macros(tree: nodes.Template) -> list[nodes.Macro]:
    """Macros that call themselves, directly or through other macros of the template."""
    macros = {m.name: m for m in tree.find_all(nodes.Macro)}
    calls = {
        name: {
            c.node.name
            for c in macro.find_all(nodes.Call)
            if isinstance(c.node, nodes.Name) and c.node.name in macros
        }
        for name, macro in macros.items()
    }
    recursive = []
    for name, macro in macros.items():
        seen: set[str] = set()
        todo = list(calls[name])
        while todo:
            callee = todo.pop()
            if callee not in seen:
                seen.add(callee)
                todo.extend(calls[callee])
        if name in seen:
            recursive.append(macro)
    return recursive


def _is_name(node: nodes.Node, name: str) -> bool:
    return isinstance(node, nodes.Name) and node.name == name and node.ctx == "load"


def _small_literal_range(call: nodes.Call) -> bool:
    return (
        not call.kwargs
        and call.dyn_args is None
        and call.dyn_kwargs is None
        and 1 <= len(call.args) <= 3
        and all(
            isinstance(a, nodes.Const)
            and type(a.value) is int
            and abs(a.value) <= MAX_LITERAL_RANGE
            for a in call.args
        )
    )


class _PartLint:
    """Findings and slot references of one parsed part."""

    def __init__(
        self,
        part: Part,
        tree: nodes.Template,
        declared: set[str],
        fragments: frozenset[str] = frozenset(),
    ) -> None:
        self.part = part
        self.fragments = fragments
        self.issues: list[LintIssue] = []
        self.used_slots: set[str] = set()
        self.names: set[str] = set()
        self._walk(tree, declared)

    def _add(self, node: nodes.Node, code: str, message: str) -> None:
        self.issues.append(LintIssue(self.part, node.lineno, code, message))

    def _walk(self, tree: nodes.Template, declared: set[str]) -> None:
        defined = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")} | {
            m.name for m in tree.find_all(nodes.Macro)
        }
        if any(True for _ in tree.find_all(nodes.For)):
            defined.add("loop")
        if any(True for _ in tree.find_all((nodes.Macro, nodes.CallBlock))):
            defined |= {"caller", "varargs", "kwargs"}
        ok_ranges: set[int] = set()
        for call in tree.find_all(nodes.Call):
            if _is_name(call.node, "range") and _small_literal_range(call):
                ok_ranges.add(id(call.node))

        for macro in _recursive_macros(tree):
            self._add(
                macro,
                "recursive_macro",
                f'macro "{macro.name}" calls itself (directly or through other macros): '
                f"rendering stops after {MAX_CALL_DEPTH} nested calls; repeat with a loop instead.",
            )
        for node in tree.find_all(nodes.Node):
            self._limits(node)
            if type(node) in DISALLOWED_TAGS:
                tag = DISALLOWED_TAGS[type(node)]
                self._add(
                    node,
                    "disallowed_tag",
                    f"{{% {tag} %}} is not allowed: a template must be self-contained.",
                )
            elif isinstance(node, nodes.Filter) and node.name in DISALLOWED_FILTERS:
                self._add(node, "disallowed_filter", f"the |{node.name} filter is not allowed.")
            elif isinstance(node, nodes.Getattr):
                self._attribute(node, node.attr, declared)
            elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
                if isinstance(node.arg.value, str):
                    self._attribute(node, node.arg.value, declared)
            elif isinstance(node, nodes.Name) and node.ctx == "load":
                self.names.add(node.name)
                self._name(node, defined, ok_ranges)

    def _limits(self, node: nodes.Node) -> None:
        """What the render's limits would refuse, where the source shows it literally."""
        if isinstance(node, nodes.Mod) and _huge_literal_format(node.left):
            self._add(node, "huge_width", HUGE_FORMAT)
        elif isinstance(node, nodes.Filter):
            name = node.name
            width = _literal_int(_argument(node, 0, "width"))
            count = _literal_int(_argument(node, 0, COUNT_FILTERS.get(name, "")))
            if name == "format" and _huge_literal_format(node.node):
                self._add(node, "huge_width", HUGE_FORMAT)
            elif name in WIDTH_FILTERS and width is not None and abs(width) > WIDTH_FILTERS[name]:
                limit = WIDTH_FILTERS[name]
                self._add(node, "huge_width", f"|{name} widths over {limit} are refused.")
            elif name in COUNT_FILTERS and count is not None and count > MAX_ITEMS:
                message = f"|{name}({count}) is refused: a list may have at most {MAX_ITEMS} items."
                self._add(node, "huge_width", message)
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            method, owner = node.node.attr, node.node.node
            width = _literal_int(node.args[0] if node.args else None)
            if method in FORMAT_METHODS and _huge_literal_format(owner):
                self._add(node, "huge_width", HUGE_FORMAT)
            elif method in WIDTH_METHODS and width is not None and width >= MAX_LITERAL_WIDTH:
                self._add(node, "huge_width", f"{method}({width}) builds a huge value.")
        elif isinstance(node, nodes.Mul):
            factors = [_literal_int(node.left), _literal_int(node.right)]
            if any(f is not None and f > MAX_LITERAL_REPEAT for f in factors):
                self._add(
                    node,
                    "large_repeat",
                    f"repeating something more than {MAX_LITERAL_REPEAT} times with * builds a "
                    "huge value.",
                )
        elif isinstance(node, nodes.Pow):
            base, exponent = _literal_int(node.left), _literal_int(node.right)
            if exponent is not None and exponent > 0:
                bits = (abs(base).bit_length() if base is not None else 1) * exponent
                if bits > MAX_INT_BITS:
                    self._add(
                        node, "large_number", f"** would make a number of {bits:,} bits or more."
                    )

    def _attribute(
        self, node: nodes.Getattr | nodes.Getitem, attr: str, declared: set[str]
    ) -> None:
        if attr.startswith("_"):
            self._add(
                node, "private_attribute", f'"{attr}": names starting with _ are not allowed.'
            )
            return
        target = node.node
        if not isinstance(target, nodes.Name) or target.ctx != "load":
            return
        if target.name == "slots":
            self.used_slots.add(attr)
            if attr not in declared:
                message = f'slots.{attr}: no slot named "{attr}" is declared.'
                self._add(node, "unknown_slot", message)
        elif target.name == "fragments":
            if attr not in self.fragments and attr not in DICT_READERS:
                known = ", ".join(sorted(self.fragments)) or "none"
                message = f'fragments.{attr}: no fragment named "{attr}" (fragments: {known}).'
                self._add(node, "unknown_fragment", message)
        elif target.name in KNOWN_KEYS and attr not in KNOWN_KEYS[target.name] | DICT_READERS:
            known = ", ".join(sorted(KNOWN_KEYS[target.name]))
            self._add(
                node,
                "unknown_attribute",
                f"{target.name}.{attr} does not exist; {target.name} has {known}.",
            )

    def _name(self, node: nodes.Name, defined: set[str], ok_ranges: set[int]) -> None:
        name = node.name
        if name in TOP_LEVEL or (name in defined and name not in DISALLOWED_NAMES):
            return
        if name == "range":
            if id(node) not in ok_ranges:
                self._add(
                    node,
                    "disallowed_name",
                    f"range() is only allowed with literal numbers up to {MAX_LITERAL_RANGE}.",
                )
        elif name in DISALLOWED_NAMES:
            self._add(node, "disallowed_name", f'"{name}" is not allowed in templates.')
        else:
            allowed = ", ".join(sorted(TOP_LEVEL))
            self._add(
                node,
                "undeclared_variable",
                f'"{name}" is not defined; templates can use {allowed}.',
            )


def _parse(part: Part, source: str) -> tuple[nodes.Template | None, LintIssue | None]:
    env = _RENDERER.html_env if part in HTML_PARTS else _RENDERER.text_env
    try:
        with _RENDERER.budget():  # compiling folds constants: the render's limits apply
            tree = env.parse(source)
            env.compile(source, raw=True)  # unknown filters and tests fail only when compiling
    except NestingTooDeep as err:
        return None, LintIssue(part, err.lineno, "too_deep", f"{err.message}.")
    except TemplateSyntaxError as err:
        return None, LintIssue(part, err.lineno, "syntax_error", f"syntax error: {err.message}")
    except Exception as err:  # whatever else refuses to compile must be a finding, not a crash
        message = f"the template cannot be compiled: {type(err).__name__}: {err}"
        return None, LintIssue(part, None, "syntax_error", message)
    return tree, None


def _fragment_issues(content: TemplateContent) -> list[LintIssue]:
    """Every fragment speaks exactly the template's languages: one missing would show a
    recipient another language's words, one extra is text nobody receives."""
    issues: list[LintIssue] = []
    for name, texts in sorted(content.fragments.items()):
        missing = [loc for loc in content.locales if not (texts.get(loc) or "").strip()]
        extra = sorted(loc for loc in texts if loc not in content.locales)
        if missing:
            issues.append(
                LintIssue(
                    "fragments",
                    None,
                    "fragment_missing_locale",
                    f'fragment "{name}" has no text in {", ".join(missing)}; the template '
                    f"speaks {', '.join(content.locales)}.",
                )
            )
        if extra:
            issues.append(
                LintIssue(
                    "fragments",
                    None,
                    "fragment_unknown_locale",
                    f'fragment "{name}" has text in {", ".join(extra)}, which is not among the '
                    f"template's locales ({', '.join(content.locales)}).",
                )
            )
    return issues


def lint(content: TemplateContent) -> list[LintIssue]:
    """Every finding for `content`, sorted by part and line; empty means ready for review."""
    issues: list[LintIssue] = []
    declared = {slot.name for slot in content.slots}
    used: set[str] = set()
    names: dict[str, set[str]] = {}
    all_parsed = True
    if content.email is None and content.print is None:
        issues.append(
            LintIssue("content", None, "no_variant", "the template has no email or print variant.")
        )
    issues += _fragment_issues(content)
    fragments = frozenset(content.fragments)
    for part, source in _sources(content):
        tree, error = _parse(part, source)
        if tree is None:
            all_parsed = False
            issues += [error] if error else []
            continue
        checked = _PartLint(part, tree, declared, fragments)
        issues += checked.issues
        used |= checked.used_slots
        names[part] = checked.names | {f"slots.{s}" for s in checked.used_slots}

    if all_parsed:  # otherwise "unused" would only mean "in a part we could not read"
        for slot in content.slots:
            if slot.name not in used:
                issues.append(
                    LintIssue(
                        "slots",
                        None,
                        "unused_slot",
                        f'slot "{slot.name}" is declared but no part of the template uses it.',
                    )
                )
    for slot in content.slots:
        if slot.locked and not any(v is not None and v != "" for v in slot.default.values()):
            issues.append(
                LintIssue(
                    "slots",
                    None,
                    "locked_without_default",
                    f'slot "{slot.name}" is locked but has no content (default) to show.',
                )
            )
    if content.email is not None:
        for part in ("email.html", "email.text"):
            if part in names and "unsubscribe_url" not in names[part]:
                issues.append(
                    LintIssue(
                        part,
                        None,
                        "missing_unsubscribe",
                        "every email needs an unsubscribe link: add {{ unsubscribe_url }}.",
                    )
                )
        footers = [
            s.name for s in content.slots if s.locked and ("legal" in s.name or "footer" in s.name)
        ]
        if "email.html" in names and not any(f"slots.{f}" in names["email.html"] for f in footers):
            hint = (
                f"use {{{{ slots.{footers[0]} }}}}"
                if footers
                else "declare a locked slot such as legal_footer and use it"
            )
            issues.append(
                LintIssue(
                    "email.html",
                    None,
                    "missing_legal_footer",
                    f"the email has no legal footer: {hint}.",
                )
            )
    return sorted(issues, key=lambda i: (i.part, i.line or 0, i.code, i.message))
