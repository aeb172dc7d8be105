"""The sandbox's limits: memory bombs in HQ's template source are refused before they
allocate, every refusal names its reason and line, and ordinary templates render exactly as
Jinja2's own sandbox renders them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from content.render import Renderer, RenderError
from content.sandbox import Sandbox
from content.spec import EmailVariant, TemplateContent

ROOT = Path(__file__).parents[2]
PEAK_LIMIT = 64 * 2**20  # traced memory; the largest legitimate value here is 2 MB
A = '{% set a = "x" * 1000000 %}'  # a value of half the limit (2,000,000 characters)
DOUBLINGS = list(zip("abcdefghi", "bcdefghij", strict=True))  # b = a ~ a, c = b ~ b, ...

# name: (email.html source, what the refusal must say). Each one, really computed, needs far
# more memory than the child process is given (or at least more than PEAK_LIMIT).
BOMBS: dict[str, tuple[str, str]] = {
    "percent_width": ('{{ "%999999999s" % "x" }}', "format widths"),
    "percent_star_width": ('{{ "%*s" % (999999999, "x") }}', "format widths"),
    "percent_key_reused": (A + '{{ ("%(a)s" * 300) % {"a": a} }}', "% formatting would build"),
    "percent_many_widths": (
        '{{ ("%9999s" * 30000) % ((1,) * 30000) }}',
        "% formatting would build",
    ),
    "replace_method": (A + '{{ a.replace("x", a) }}', r"replace\(\) would build"),
    "replace_empty_old": (A + '{{ a.replace("", "y" * 1000) }}', r"replace\(\) would build"),
    "replace_filter": (A + '{{ a|replace("x", a) }}', r"\|replace would build"),
    "concat_many": (
        A + "{{ (" + " ~ ".join(["a"] * 300) + ")|length }}",
        r"~ \(joining values\) would build",
    ),
    "concat_doubling": (
        A
        + "".join(
            f"{{% set {n} = {p} ~ {p} %}}" for p, n in zip("abcdefghi", "bcdefghij", strict=True)
        )
        + "{{ j|length }}",
        r"~ \(joining values\) would build",
    ),
    "plus_doubling": (
        A
        + "".join(
            f"{{% set {n} = {p} + {p} %}}" for p, n in zip("abcdefghi", "bcdefghij", strict=True)
        )
        + "{{ j|length }}",
        r"\+ would build",
    ),
    "repeat": ('{{ "x" * 1000000000 }}', r"\* would build"),
    "repeat_list": ("{{ ([1] * 1000000000)|length }}", r"\* would have"),
    "repeat_bytes": ('{{ "x".encode() * 1000000000 }}', r"\* would build"),
    "repeat_markup": ("{{ ('<b>'|safe) * 1000000000 }}", r"\* would build"),
    "join_filter": (A + "{{ ([a] * 300)|join(a)|length }}", r"\|join would build"),
    "join_method": (A + "{{ a.join([a] * 300)|length }}", r"join\(\) would build"),
    "join_markup_of_lists": (A + '{{ ("<"|safe).join([[a] * 1000]) }}', r"join\(\) would build"),
    "ljust": ('{{ "x".ljust(999999999) }}', "padding would build"),
    "rjust": ('{{ "x".rjust(999999999) }}', "padding would build"),
    "center_method": ('{{ "x".center(999999999) }}', "padding would build"),
    "zfill": ('{{ "1".zfill(999999999) }}', "padding would build"),
    "expandtabs": ('{{ ("\\t" * 1000).expandtabs(999999) }}', r"expandtabs\(\) would build"),
    "translate": (A + "{{ a.translate({120: a}) }}", r"translate\(\) would build"),
    "to_bytes": ('{{ (1).to_bytes(999999999, "big")|length }}', r"to_bytes\(\) would build"),
    "split": ('{{ (" €" * 1000000).split()|length }}', r"split\(\) would have"),
    "splitlines": ('{{ ("€\\n" * 1000000).splitlines()|length }}', r"splitlines\(\) would have"),
    "center_filter": ("{{ 'x'|center(999999999) }}", "center width"),
    "indent_filter": ("{{ 'x'|indent(999999999) }}", "indent width"),
    "indent_filter_string": (
        '{% set n = "\\n" * 100000 %}{{ n|indent("x" * 10000, blank=true) }}',
        r"\|indent would build",
    ),
    "format_filter": ("{{ '%0999999999d'|format(1) }}", "format widths"),
    "format_method": ("{{ '{:>999999999}'.format(1) }}", "format widths"),
    "format_nested_width": ("{{ '{:{}}'.format(1, 999999999) }}", "format widths"),
    "format_field_reused": (A + '{{ ("{0}" * 300).format(a) }}', r"format\(\) would build"),
    "wordwrap": (A + "{{ a|wordwrap(1, wrapstring=a) }}", r"\|wordwrap would build"),
    "urlize_target": (
        '{% set t = "x.com " * 100000 %}{{ t|urlize(target="y" * 1000)|length }}',
        r"\|urlize would build",
    ),
    "batch_fill": ("{{ [1]|batch(999999999, 0)|list }}", r"\|batch would have"),
    "batch_rows": (A + "{{ (a * 2)|batch(1)|list|length }}", r"\|batch would have"),
    "slice_count": ("{{ [1]|slice(999999999)|list|length }}", r"\|slice would have"),
    "list_filter": ('{{ ("€" * 2000000)|list|length }}', r"\|list would have"),
    "sum_of_lists": (
        "{% set l = [1] * 50000 %}{{ ([l] * 1000)|sum(start=[])|length }}",
        r"\|sum would have",
    ),
    "tojson_indent": ("{{ ([[1]] * 100000)|tojson(indent=999)|length }}", r"\|tojson would build"),
    "print_shared_list": (A + "{{ [a] * 1000 }}", "printing a value would build"),
    "string_shared_list": (A + "{{ ([a] * 1000)|string|length }}", r"\|string would build"),
    "tojson_shared_list": (A + "{{ ([a] * 1000)|tojson|length }}", r"\|tojson would build"),
    "pprint_shared_list": (A + "{{ ([a] * 1000)|pprint|length }}", r"\|pprint would build"),
    "percent_shared_list": (
        A + '{{ ("%s" % ([a] * 1000,))|length }}',
        "% formatting would build",
    ),
    "format_shared_list": (A + '{{ "{}".format([a] * 1000)|length }}', r"format\(\) would build"),
    "concat_shared_list": (
        A + '{{ (([a] * 1000) ~ "")|length }}',
        r"~ \(joining values\) would build",
    ),
    "macro_output_grows": (
        A + "{% macro m() %}{% for i in range(100000) %}{{ a ~ i }}{% endfor %}{% endmacro %}"
        "{{ m()|length }}",
        "more than 20,000,000 characters in total",
    ),
    "macro_output_escapes": (
        '{% set a = "<" * 300000 %}{% macro m() %}{% for i in range(1000) %}{{ a }}{% endfor %}'
        "{% endmacro %}{{ m()|length }}",
        "more than 20,000,000 characters in total",
    ),
    "set_block_grows": (
        A + "{% set s %}{% for i in range(100000) %}{{ a }}{% endfor %}{% endset %}{{ s|length }}",
        "more than 20,000,000 characters in total",
    ),
    "filter_block_grows": (
        A + "{% filter length %}{% for i in range(100000) %}{{ a }}{% endfor %}{% endfilter %}",
        "more than 20,000,000 characters in total",
    ),
    "slices_held": (
        A + "{% set l = [" + ", ".join(f"a[{i}:]" for i in range(1, 300)) + "] %}{{ l|length }}",
        "more than 20,000,000 characters in total",
    ),
    "filter_results_held": (
        A + "{% set l = [" + ", ".join(["a|upper"] * 300) + "] %}{{ l|length }}",
        "more than 20,000,000 characters in total",
    ),
    "macro_doubling": (
        "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s|length }}{% endmacro %}{{ d('x', 40) }}",
        "would build",
    ),
    "int_squaring": (
        "{% set x = 10 ** 20000 %}{% set y = x * x %}{% set z = y * y %}{{ (z * z) % 7 }}",
        "more than 100,000 bits",
    ),
    "power": ("{{ 10 ** (10 ** 10) }}", "more than 100,000 bits"),
    "macro_recursion": ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "more than 50 deep"),
    "loop_recursion": (
        "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
        "more than 50 deep",
    ),
    "caller_recursion": (
        "{% macro m() %}{{ caller() }}{% endmacro %}"
        "{% macro r() %}{% call m() %}{{ r() }}{% endcall %}{% endmacro %}{{ r() }}",
        "more than 50 deep",
    ),
    "nested_brackets": (
        "{{ " + "(" * 10000 + "1" + ")" * 10000 + " }}",
        "brackets are nested more than 50 deep",
    ),
    "nested_blocks": ("{% if 1 %}" * 1000 + "x" + "{% endif %}" * 1000, "blocks are nested more"),
    "filter_chain": ("{{ 'x'" + "|e" * 1000 + " }}", "nested more than 50 levels deep"),
    "operator_chain": ("{{ 1" + " + 1" * 1000 + " }}", "nested more than 50 levels deep"),
    "not_chain": ("{{ " + "not " * 2000 + "1 }}", "nested too deeply"),
}


@pytest.fixture(scope="module")
def isolated() -> dict[str, dict[str, Any]]:
    """Every bomb rendered once, in order, by tests.content.render_isolated in a child process."""
    names = list(BOMBS)
    sources = json.dumps([BOMBS[name][0] for name in names])
    child = subprocess.run(
        [sys.executable, "-m", "tests.content.render_isolated"],
        input=sources,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    outcomes = [json.loads(line) for line in child.stdout.splitlines()]
    results = dict(zip(names, outcomes, strict=False))
    for name in names[len(outcomes) :]:
        results[name] = {"error": "child process died", "message": child.stderr[-2000:]}
    return results


@pytest.mark.parametrize("name", list(BOMBS))
def test_memory_bomb_is_refused_before_it_allocates(
    isolated: dict[str, dict[str, Any]], name: str
) -> None:
    reason = BOMBS[name][1]
    outcome = isolated[name]
    assert outcome["error"] == "RenderError", outcome
    assert not outcome["memory_error"], f"it allocated until the process ran out: {outcome}"
    assert re.search(reason, outcome["message"]), outcome
    assert outcome["line"] == 1, outcome
    assert outcome["peak"] < PEAK_LIMIT, f"{outcome['peak'] / 2**20:.0f} MB traced: {outcome}"


def tiny(html: str) -> TemplateContent:
    return TemplateContent(slots=[], email=EmailVariant(subject="Hi", html=html, text="x"))


@pytest.mark.parametrize(
    ("source", "line", "reason"),
    [
        ("<p>\n{{ 'x' * 10**9 }}", 2, r"\* would build 1,000,000,000 characters"),
        ("{% macro m(x) %}\n\n{{ x * 10**9 }}{% endmacro %}\n\n{{ m('a') }}", 3, "would build"),
        ("a\n{% macro m() %}\n{{ m() }}{% endmacro %}\n{{ m() }}", 3, "more than 50 deep"),
        ("a\n\n{{ ''.__class__ }}", 3, "SecurityError"),
        ("a\n{{ nothing }}", 2, "UndefinedError"),
        ("a\n\n{{ (( }}", 3, "unexpected"),
        ("a\n\n\n{{ " + "(" * 100 + "1" + ")" * 100 + " }}", 4, "brackets are nested"),
        ("a\n{% for i in range(10**9) %}{% endfor %}", 2, "Range too big"),
    ],
)
def test_refusal_names_part_line_and_reason(source: str, line: int, reason: str) -> None:
    with pytest.raises(RenderError) as err:
        Renderer().render_email(f"line-{source}", tiny(source), {}, {}, inline_css=False)
    assert err.value.part == "email.html"
    assert err.value.line == line
    assert re.search(reason, err.value.reason)
    assert str(err.value).startswith(f"email.html, line {line}: ")


def test_limits_follow_the_renderer() -> None:
    renderer = Renderer(max_output=10_000)
    with pytest.raises(RenderError, match="a value may have at most 10,000"):
        renderer.render_email("small", tiny("{{ ('x' * 6000) ~ ('y' * 6000) }}"), {}, {})
    with pytest.raises(RenderError, match="more than 100,000 characters in total"):
        renderer.render_email("total", tiny("{% set l = [" + "'x' * 9000, " * 20 + "] %}"), {}, {})


ORDINARY = [
    "{{ 'a' ~ 1 ~ slots.x ~ none }}{{ slots.x ~ slots.n }}",
    "{{ slots.x[1:3] }}{{ slots.x[::-1] }}{{ [1, 2, 3][1:] }}{{ slots.x[-2:] }}",
    "{% macro b(t) %}<b>{{ t }}</b>{{ varargs }}{% endmacro %}{{ b(slots.x, 1, '<') }}"
    "{% macro c() %}[{{ caller() }}]{% endmacro %}{% call c() %}z{{ slots.x }}{% endcall %}",
    "{% set s %}<i>{{ slots.x }}</i>{% endset %}{{ s }}{{ s|length }}",
    "{% filter upper %}a{{ slots.x }}{% endfilter %}"
    "{% filter replace('a', '<') %}{{ slots.x }}a{% endfilter %}",
    "{% for i in range(5) %}{{ loop.cycle('odd', 'even') }}{{ i % 2 }}{{ '%03d' % i }}{% endfor %}",
    "{{ '%s and %s' % ('a', slots.x) }}{{ '%(n)s' % {'n': slots.x} }}{{ '%r' % slots.x }}"
    "{{ '{} {x!r}'.format(1, x=slots.x) }}{{ '{:>6}|{:.2f}'.format(slots.x, 2.5) }}",
    "{{ [1, 2]|join(', ') }}{{ slots.l|map('upper')|join('<') }}{{ slots.l|join(attribute=0) }}",
    "{{ 'a b c'.split() }}{{ 'a,b'.split(',') }}{{ 'a\\nb'.splitlines() }}"
    "{{ 'a b'.rsplit(None, 1) }}",
    "{{ 'x'.center(9, '*') }}{{ '5'.zfill(3) }}{{ 'a\\tb'.expandtabs(4) }}"
    "{{ 'abc'.replace('b', '<') }}{{ 'abc'.translate({98: 'XY'}) }}{{ slots.x.ljust(8, '.') }}",
    "{{ [1, 2] + [3] }}{{ (1, 2) * 2 }}{{ 2 ** 10 }}{{ 3 * 4 }}{{ 'ab' * 3 }}{{ slots.x + '!' }}",
    "{{ {'a': [1, 'x<']} }}{{ slots.l }}{{ [slots.x] }}{{ slots.n }}",
    "{{ slots.x|replace('a', '<b>') }}{{ slots.x|wordwrap(3) }}{{ slots.x|indent(2, true) }}"
    "{{ slots.x|center(11) }}{{ slots.x|format }}{{ '%s-%s'|format(1, slots.x) }}",
    "{{ [3, 1, 2]|sort|list }}{{ [1, 1, 2]|unique|list }}{{ [1, 2, 3, 4]|batch(3, 0)|list }}"
    "{{ [1, 2, 3]|slice(2)|list }}{{ [[1], [2]]|sum(start=[]) }}{{ [1, 2]|sum }}",
    "{{ {'b': 1, 'a': '<'}|dictsort }}{{ {'a': 1}|items|list }}{{ {'a': '<'}|xmlattr }}"
    "{{ [1, '<']|tojson }}{{ [1]|pprint }}{{ slots.l|reverse|list }}{{ slots.x|reverse }}",
    "{{ 'see www.example.com'|urlize }}{{ 'a&b'|urlencode }}{{ slots.x|truncate(5) }}"
    "{{ slots.x|e }}{{ slots.x|safe }}{{ slots.x|forceescape }}{{ slots.x|string }}",
    "{% for x in [[1, [2]]] recursive %}{{ x if x is number else loop(x) }}{% endfor %}",
    "{{ (1).to_bytes(2, 'big') }}{{ {}.fromkeys('ab') }}{{ 'a'.join(['x', 'y']) }}",
    "{% autoescape false %}{{ '<' ~ slots.x }}{{ slots.l }}{% endautoescape %}{{ '<' ~ slots.x }}",
    "{{ 'x' if slots.x else 'y' }}{% for k, v in slots.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% autoescape slots.no %}{{ slots.x ~ '<' }}{% set s %}{{ slots.l }}{{ slots.x }}{% endset %}"
    "{{ s }}{% endautoescape %}",
    "{% autoescape slots.yes %}{{ slots.x ~ '<' }}{% macro m() %}{{ slots.l }}{% endmacro %}"
    "{{ m() }}{% endautoescape %}",
]
VARIABLES: dict[str, Any] = {
    "slots": {"x": "ab<c'", "n": 7, "l": ["p", "q&"], "yes": True, "no": False}
}


@pytest.mark.parametrize("autoescape", [True, False])
@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_as_in_jinja2s_sandbox(source: str, autoescape: bool) -> None:
    """The checks are compiled into the template: the output must not change."""
    plain = ImmutableSandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined)
    expected = plain.from_string(source).render(VARIABLES)
    checked = Sandbox(autoescape=autoescape).from_string(source)
    assert "".join(checked.generate(VARIABLES)) == expected
