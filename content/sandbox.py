"""The Jinja2 environment HQ's template source runs in: the immutable sandbox plus limits.

Jinja2's sandbox keeps templates away from Python internals but lets them allocate freely.
Here every place where a template builds a value goes through a check of content.budget
before the value exists: the operators `*`, `**`, `+` and `%` (intercepted), `~` (compiled
into a checked join), slices, printed values inside macros and blocks, the buffers of macros
and blocks, `str.format`, every filter and the methods of built-in values (content.guards).
Parsing refuses sources nested too deeply for the parser and Python's compiler, so a
"syntax bomb" is a TemplateSyntaxError with a line, not a RecursionError.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from functools import update_wrapper
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.parser import Parser
from jinja2.runtime import BlockReference, Context, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
    safe_range,
)
from markupsafe import Markup, escape

from content.budget import (
    MAX_INT_BITS,
    MAX_LOOP_NESTING,
    MAX_NESTING,
    Budget,
    RenderError,
    current,
)
from content.guards import (
    HUGE_FORMAT_MESSAGE,
    check_method,
    check_percent,
    count_result,
    guard_filter,
    text_of,
)
from content.sizes import field_size, huge_format, text_size

# Calls that run template code again (and so can recurse).
_REENTRANT = (Macro, LoopContext, BlockReference)
# Names a template cannot bind with set/for/macro parameters but that hold its own values.
_IMPLICIT_NAMES = frozenset({"loop", "caller", "varargs", "kwargs"})
_OPENING = frozenset({"(", "[", "{"})
_BLOCK_TAGS = frozenset({"if", "for", "macro", "call", "filter", "with", "block", "autoescape"})
_CLOSING = frozenset({")", "]", "}"})
_TEXT = (str, bytes, bytearray)
_SEQUENCES = (str, bytes, bytearray, list, tuple)


class NestingTooDeep(TemplateSyntaxError):
    """The source nests brackets, blocks or expressions deeper than the sandbox compiles."""


def _check_token_nesting(
    tokens: Iterable[tuple[int, str, str]], name: str | None, filename: str | None
) -> None:
    """Brackets and block tags ({% if %} ... {% endif %}) each at most MAX_NESTING deep."""
    brackets = blocks = 0
    tag_starts = False
    block_set: int | None = None  # line of a {% set x %} that may open a block
    for lineno, kind, value in tokens:
        if kind == "whitespace":
            continue
        if tag_starts and kind == "name":
            if value == "set":
                block_set = lineno
            elif value in _BLOCK_TAGS:
                blocks += 1
            elif value.startswith("end"):
                blocks -= 1
        tag_starts = kind == "block_begin"
        if block_set is not None and kind == "operator" and value == "=":
            block_set = None  # {% set x = ... %} has no body
        elif block_set is not None and kind == "block_end":
            blocks += 1
            block_set = None
        if kind == "operator" and value in _OPENING:
            brackets += 1
        elif kind == "operator" and value in _CLOSING:
            brackets -= 1
        if brackets > MAX_NESTING or blocks > MAX_NESTING:
            what = "brackets are" if brackets > MAX_NESTING else "blocks are"
            message = f"{what} nested more than {MAX_NESTING} deep"
            raise NestingTooDeep(message, lineno, name, filename)


def _check_tree_depth(tree: nodes.Template, name: str | None, filename: str | None) -> None:
    """At most MAX_NESTING levels of syntax tree, and at most MAX_LOOP_NESTING loops inside
    one another (each is a Python loop, and Python compiles at most 20 nested blocks)."""
    stack: list[tuple[nodes.Node, int, int]] = [(tree, 1, 0)]
    while stack:
        node, level, loops = stack.pop()
        loops += isinstance(node, nodes.For)
        if level > MAX_NESTING:
            message = f"the template is nested more than {MAX_NESTING} levels deep"
            raise NestingTooDeep(message, node.lineno, name, filename)
        if loops > MAX_LOOP_NESTING:
            message = f"loops are nested more than {MAX_LOOP_NESTING} deep"
            raise NestingTooDeep(message, node.lineno, name, filename)
        stack.extend((child, level + 1, loops) for child in node.iter_child_nodes())


def _bound_names(tree: nodes.Template) -> frozenset[str]:
    """Every name the template itself assigns (set, for, with, macro and its parameters)."""
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    names |= {m.name for m in tree.find_all(nodes.Macro)}
    names |= {n.target for n in tree.find_all(nodes.Import)}
    for node in tree.find_all(nodes.FromImport):
        names |= {n if isinstance(n, str) else n[-1] for n in node.names}
    return frozenset(names | _IMPLICIT_NAMES)


def _check_product(budget: Budget, left: Any, right: Any) -> None:
    """`"x" * n`, `[x] * n` and `a * b` of integers, before multiplying."""
    seq, n = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(seq, _SEQUENCES) and isinstance(n, int):
        size = len(seq) * max(n, 0)
        if isinstance(seq, _TEXT):
            budget.build(size, "*")
        else:
            budget.check_items(size, "*")
    elif (
        isinstance(seq, int)
        and isinstance(n, int)
        and seq.bit_length() + n.bit_length() > MAX_INT_BITS
    ):
        raise RenderError(f"a product of integers would have more than {MAX_INT_BITS:,} bits")


def _huge_power(base: Any, exponent: Any) -> bool:
    return (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and base.bit_length() * exponent > MAX_INT_BITS
    )


class _CheckingCodeGenerator(CodeGenerator):
    """Compiles the checks into the template: every for-loop body starts with the statement
    `environment.tick` (a property that checks the deadline; Jinja2 has no node for a plain
    method call), so even a loop that outputs nothing and calls nothing runs out of time;
    `~` joins through
    `environment.concat_values`, slices through `environment.getslice`, and printed values
    that may have been built by the template through `environment.text_output` or
    `environment.escaped_output`."""

    _bound: frozenset[str] = frozenset()

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        self._bound = _bound_names(node)
        super().visit_Template(node, frame)

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        tick = nodes.ExprStmt(nodes.EnvironmentAttribute("tick"), lineno=node.lineno)
        node.body = [tick, *node.body]
        super().visit_For(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            autoescape = "context.eval_ctx.autoescape"
        else:
            autoescape = repr(bool(frame.eval_ctx.autoescape))
        self.write("environment.concat_values((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(f"), {autoescape})")

    @optimizeconst
    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        if not isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        self.write("environment.getslice(")
        self.visit(node.node, frame)
        for part in (node.arg.start, node.arg.stop, node.arg.step):
            self.write(", ")
            if part is None:
                self.write("None")
            else:
                self.visit(part, frame)
        self.write(")")

    def _checks_output(self, node: nodes.Expr, frame: Frame) -> bool:
        """Inside macros and blocks every printed value is counted (their buffers grow in
        memory); at the top level the render counts the output itself, and only values the
        template may have built need checking before they become text. Values looked up in
        the render's data (a name the template never assigns, and items of it) are bounded
        by the data."""
        if frame.buffer is not None:
            return True
        while isinstance(node, nodes.Getattr | nodes.Getitem):
            node = node.node
        return not (isinstance(node, nodes.Name) and node.name not in self._bound)

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if not self._checks_output(node, frame):
            super()._output_child_pre(node, frame, finalize)
        elif frame.eval_ctx.volatile:
            self.write(
                "(environment.escaped_output if context.eval_ctx.autoescape"
                " else environment.text_output)("
            )
        elif frame.eval_ctx.autoescape:
            self.write("environment.escaped_output(")
        else:
            self.write("environment.text_output(")

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if not self._checks_output(node, frame):
            super()._output_child_post(node, frame, finalize)
        else:
            self.write(")")


class _CheckedFormatter(SandboxedFormatter):
    """str.format with each field's size predicted before it is formatted."""

    _size = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._size = len(format_string)
        result = super().vformat(format_string, args, kwargs)
        current().build(len(result), "format()")
        return result

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion in ("r", "a"):
            budget = current()
            budget.check_value(text_size(value, budget.max_output, quoted=True), "format()")
        elif conversion == "s":
            text_of(current(), value, "format()")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = current()
        self._size += field_size(value, format_spec, budget.max_output)
        budget.check_value(self._size, "format()")
        return super().format_field(value, format_spec)


class _CheckedEscapeFormatter(_CheckedFormatter, SandboxedEscapeFormatter):
    pass


def _refuse_huge_format(*args: Any, **kwargs: Any) -> str:
    raise RenderError(HUGE_FORMAT_MESSAGE)


class Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox plus limits; the only global is the sandbox's bounded `range`."""

    code_generator_class = _CheckingCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(autoescape=autoescape, undefined=StrictUndefined, cache_size=0)
        self.globals.clear()
        self.globals["range"] = safe_range
        self.filters = {name: guard_filter(name, f) for name, f in self.filters.items()}

    # --- parsing -----------------------------------------------------------------------------

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Refuses brackets and blocks nested deeper than MAX_NESTING before parsing (the
        parser recurses on both, and brackets add no node to the tree) and trees deeper than
        that after; what the parser cannot handle at all is a syntax error at the line it got
        to."""
        _check_token_nesting(self.lexer.tokeniter(source, name, filename), name, filename)
        parser = Parser(self, source, name, filename)
        try:
            tree = parser.parse()
        except RecursionError:
            raise NestingTooDeep(
                "the template is nested too deeply", parser.stream.current.lineno, name, filename
            ) from None
        _check_tree_depth(tree, name, filename)
        return tree

    # --- hooks the compiled template calls ---------------------------------------------------

    @property
    def tick(self) -> None:
        """Read at the top of every loop iteration: the deadline check."""
        current().check_time()

    def call(
        __self,  # the sandbox's own convention: avoids clashes with keyword arguments
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        budget = current()
        budget.check_time()
        if isinstance(__obj, _REENTRANT):
            budget.enter_call()
            try:
                return super().call(__context, __obj, *args, **kwargs)
            finally:
                budget.leave_call()
        if getattr(__obj, "__self__", None) is None:
            return super().call(__context, __obj, *args, **kwargs)
        args, kwargs = check_method(budget, __obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        return count_result(budget, result, f"{getattr(__obj, '__name__', 'a method')}()")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = current()
        budget.check_time()
        if operator == "*":
            _check_product(budget, left, right)
        elif operator == "+":
            if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
                size = len(left) + len(right)
                if isinstance(left, _TEXT):
                    budget.build(size, "+")
                else:
                    budget.check_items(size, "+")
        elif operator == "%" and isinstance(left, _TEXT):
            check_percent(budget, left, right, "% formatting")
            result = self.binop_table[operator](left, right)
            budget.build(len(result), "% formatting")
            return result
        elif operator == "**" and _huge_power(left, right):
            raise RenderError(f"a power of integers would have more than {MAX_INT_BITS:,} bits")
        return self.binop_table[operator](left, right)

    def concat_values(self, values: tuple[Any, ...], autoescape: bool) -> str:
        """`a ~ b ~ c`: the joined size is known before joining."""
        budget = current()
        limit = budget.max_output
        size = 0
        for value in values:
            size += len(value) if type(value) is str else text_size(value, limit)
            if size > limit:
                break
        budget.build(size, "~ (joining values)")
        return markup_join(values) if autoescape else str_join(values)

    def concat(self, parts: Iterable[str]) -> str:
        """Joins the output of a macro, call block, {% set %} or {% filter %} block."""
        collected = parts if isinstance(parts, list) else list(parts)
        current().build(sum(map(len, collected)), "a macro's or block's output")
        return "".join(collected)

    def text_output(self, value: Any) -> str:
        """`str(value)` for printing, checked before it becomes text."""
        budget = current()
        kind = type(value)
        size = len(value) if kind is str or kind is Markup else text_of(budget, value, "printing")
        budget.build(size, "printing a value")
        return str(value)

    def escaped_output(self, value: Any) -> Markup:
        """`escape(value)` for printing: checked before it becomes text, counted escaped."""
        budget = current()
        if not isinstance(value, str):
            text_of(budget, value, "printing a value")
        result = escape(value)
        budget.built += len(result)
        if budget.built > budget.max_total or len(result) > budget.max_output:
            budget.build(0, "printing a value")
            budget.check_value(len(result), "printing a value")
        return result

    def getslice(self, obj: Any, start: Any, stop: Any, step: Any) -> Any:
        selection = slice(start, stop, step)
        if isinstance(obj, _SEQUENCES):
            count = len(range(*selection.indices(len(obj))))
            if isinstance(obj, _TEXT):
                current().build(count, "a slice")
            else:
                current().check_items(count, "a slice")
        return obj[selection]

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`"{:>999999999}".format(x)` would allocate a gigabyte before any limit could act:
        str.format runs through a formatter that predicts every field's size."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or (
            value.__name__ not in ("format", "format_map")
        ):
            return None
        owner: Any = value.__self__
        if not isinstance(owner, str):
            return None
        if huge_format(owner):
            return _refuse_huge_format
        str_type: type[str] = type(owner)
        is_format_map = value.__name__ == "format_map"
        formatter: _CheckedFormatter
        if isinstance(owner, Markup):
            formatter = _CheckedEscapeFormatter(self, escape=owner.escape)
        else:
            formatter = _CheckedFormatter(self)

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return str_type(formatter.vformat(owner, args, kwargs))

        return update_wrapper(wrapper, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`slots.x` on a dict looks up the key first: the variables are all plain dicts, and
        a slot named like a dict method (items, keys) should still mean the slot."""
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)
