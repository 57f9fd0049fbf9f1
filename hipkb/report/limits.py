"""What one report template may cost: CPU time, loop steps, value sizes, output.

A researcher's ``--templates DIR`` is code from outside, run in Jinja's
sandbox. The sandbox keeps a template from Python's internals but not from
running for ever (two nested loops over ``range(100000)``), from squaring a
number in a ``namespace`` until it fills memory, nor from doubling a string
past a gigabyte. Here every such path is metered:

- **CPU time**: this thread's CPU clock (:func:`time.thread_time`), read on
  loop steps, calls and operators; no signal is used, so the limits hold
  when a report is rendered in a thread of a web server as well;
- **loop steps**: every ``{% for %}`` iterates through a counter (the code
  generator wraps the iterable), and ``range()`` stays small;
- **sizes**: operators, calls and filters that can make a large value from
  small ones (``*``, ``**``, ``+``, ``%``, ``~``, ``replace``, ``join``,
  ``center``, ``indent``, ``format``, ...) are checked *before* they build
  it; every value built is counted against one total for the render;
- **output**: the report is streamed and refused past a size.

Each refusal is a :class:`LimitError`, which :mod:`hipkb.report.render`
turns into one line naming the template and its line.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from hipkb.errors import LimitError

MAX_SECONDS = 2.0  # CPU seconds of one render: the shipped reports take milliseconds
MAX_STEPS = 1_000_000  # loop steps of one render
MAX_RANGE = 100_000  # items of one range()
# The shipped reports, on every example case: at most 181,404 characters and
# items built, 542 loop steps and 92,116 characters of report. The limits
# leave a custom template twenty times that, and bound what a hostile one
# can hold in memory to a few hundred megabytes at the very worst.
MAX_SEQUENCE = 250_000  # characters or items of one value a template builds
MAX_BUILT = 4_000_000  # characters and items built by template operators in one render
MAX_OUTPUT = 4_000_000  # characters of one report
MAX_INT_BITS = 4096  # an integer a report needs fits in far fewer bits
MAX_EXPONENT = 64
_TIME_EVERY = 256  # read the CPU clock once in this many metered events

# A width or precision of seven digits or more in a format string, or one
# taken from the arguments (*): "%0999999999d" would build a gigabyte.
# A width taken from the arguments ({0:{1}}) could be any size: refused too.
_PERCENT_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{7,}|\d*\.(?:\*|\d{7,}))")
_BRACE_WIDTH = re.compile(r"\{[^{}]*\d{7,}[^{}]*\}|\{[^{}]*:[^{}]*\{")


class Budget:
    """What one render has used so far."""

    __slots__ = ("built", "deadline", "events", "output", "steps")

    def __init__(self, seconds: float = MAX_SECONDS) -> None:
        self.deadline = time.thread_time() + seconds
        self.steps = self.events = self.built = self.output = 0

    def event(self) -> None:
        self.events += 1
        if self.events % _TIME_EVERY == 0 and time.thread_time() > self.deadline:
            raise LimitError(f"took more than {MAX_SECONDS:g} CPU seconds")

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise LimitError(f"made more than {MAX_STEPS:,} loop steps")
        self.event()

    def add_built(self, n: int) -> None:
        self.built += n
        if self.built > MAX_BUILT:
            raise LimitError(f"built more than {MAX_BUILT:,} characters or items in all")

    def add_output(self, n: int) -> None:
        self.output += n
        if self.output > MAX_OUTPUT:
            raise LimitError(f"wrote a report of more than {MAX_OUTPUT:,} characters")


_CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("hipkb_template_budget", default=None)


@contextlib.contextmanager
def metered(seconds: float = MAX_SECONDS) -> Iterator[Budget]:
    """Meter the renders in this block (this thread or task only)."""
    budget = Budget(seconds)
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def event() -> None:
    budget = _CURRENT.get()
    if budget is not None:
        budget.event()


def steps(iterable: Iterable[Any]) -> Iterable[Any]:
    """*iterable*, counting each step against the render's budget (every ``{% for %}`` goes through here)."""
    budget = _CURRENT.get()
    if budget is None:
        return iterable
    return _counted(iterable, budget)


def _counted(iterable: Iterable[Any], budget: Budget) -> Iterator[Any]:
    for item in iterable:
        budget.step()
        yield item


def built(value: Any) -> Any:
    """*value*, once checked: not too long, not too big a number; counted against the render's total."""
    if isinstance(value, (str, list, tuple, dict, set, frozenset, bytes)):
        size = len(value)
        if size > MAX_SEQUENCE:
            raise LimitError(f"built a value of {size:,} characters or items (at most {MAX_SEQUENCE:,})")
        budget = _CURRENT.get()
        if budget is not None:
            budget.add_built(size)
            budget.event()
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise LimitError(f"built a number of more than {MAX_INT_BITS} bits")
    return value


def check_text(value: Any) -> Any:
    """*value*, once sure that writing it out as text stays within :data:`MAX_SEQUENCE` characters.

    ``str()`` of a list holding a long string many times (``['x' * 999999] *
    999999``) is a terabyte; it is measured here, before anything converts
    it, by a walk that stops as soon as the size is past the limit.
    """
    if isinstance(value, str) or (not isinstance(value, (list, tuple, dict, set, frozenset)) and not hasattr(
            value, "_Namespace__attrs")):
        return value
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 4  # quotes and a separator
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif hasattr(item, "_Namespace__attrs"):  # jinja2's namespace(): its repr shows every value
            total += 12
            stack.append(item._Namespace__attrs)
        elif _is_int(item):
            total += item.bit_length() // 3 + 2
        else:
            total += 32
        if total > MAX_SEQUENCE:
            raise LimitError(f"would write out a value of more than {MAX_SEQUENCE:,} characters")
    return value


def _too_long(size: int) -> None:
    if size > MAX_SEQUENCE:
        raise LimitError(f"would build a value of {size:,} characters or items (at most {MAX_SEQUENCE:,})")


def _length(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


# -- checks before an operation builds its value -------------------------------

def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left operator right`` when its result would be too large to build."""
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                _too_long(len(seq) * n)
        if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise LimitError(f"would build a number of more than {MAX_INT_BITS} bits")
    elif operator == "**":
        if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise LimitError(f"used an exponent of {right}, larger than {MAX_EXPONENT}")
        if _is_int(left) and _is_int(right) and left.bit_length() * max(right, 0) > MAX_INT_BITS:
            raise LimitError(f"would build a number of more than {MAX_INT_BITS} bits")
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _too_long(len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        _check_format(left)
        check_text(right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_format(text: str, braces: bool = False) -> None:
    if (_BRACE_WIDTH if braces else _PERCENT_WIDTH).search(text):
        raise LimitError("used a format width or precision too large for a report")


def _check_ints(args: Iterable[Any]) -> None:
    for arg in args:
        if _is_int(arg) and abs(arg) > MAX_SEQUENCE:
            raise LimitError(f"passed {arg} as an argument, too large for a report (at most {MAX_SEQUENCE:,})")


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        count = text.count(old) if old else len(text) + 1
        _too_long(len(text) + count * (len(new) - len(old)))


def _check_join(items: Any, sep: Any) -> None:
    if isinstance(items, (list, tuple)):
        size = sum(len(i) for i in items if isinstance(i, str))
        _too_long(size + _length(sep) * max(len(items) - 1, 0))


def check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call of a ``str``, ``list`` or ``dict`` method that would build too large a value."""
    # The sandbox hands out str.format wrapped (functools.update_wrapper): look through it.
    method = getattr(method, "__wrapped__", method)
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, (str, list, dict, set)):
        return
    name = getattr(method, "__name__", "")
    _check_ints([*args, *kwargs.values()])
    if isinstance(owner, str):
        for arg in (*args, *kwargs.values()):
            check_text(arg)
        if name == "replace" and len(args) >= 2:
            _check_replace(owner, args[0], args[1])
        elif name == "join" and args:
            _check_join(args[0], owner)
        elif name in ("format", "format_map"):
            _check_format(owner, braces=True)
        elif name == "expandtabs":
            size = args[0] if args else kwargs.get("tabsize", 8)
            if _is_int(size):
                _too_long(len(owner) * max(size, 1))
    elif name in ("extend", "update") and args:
        _too_long(len(owner) + _length(args[0]))
    elif len(owner) >= MAX_SEQUENCE and name in ("append", "insert", "add", "setdefault"):
        _too_long(len(owner) + 1)


def _check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _check_ints([*args, *kwargs.values()])
    if name not in _NO_TEXT_FILTERS:
        for item in (value, *args, *kwargs.values()):
            check_text(item)
    if name == "replace" and len(args) >= 2:
        _check_replace(value, args[0], args[1])
    elif name == "join":
        _check_join(value, args[0] if args else kwargs.get("d", ""))
    elif name == "format" and isinstance(value, str):
        _check_format(value)
    elif name == "indent" and isinstance(value, str):
        width = args[0] if args else kwargs.get("width", 4)
        per_line = width if _is_int(width) else _length(width)
        _too_long(len(value) + (value.count("\n") + 1) * per_line)
    elif name == "wordwrap" and isinstance(value, str):
        width = args[0] if args else kwargs.get("width", 79)
        wrapstring = args[2] if len(args) > 2 else kwargs.get("wrapstring") or "\n"
        if _is_int(width):
            _too_long(len(value) + (len(value) // max(width, 1) + 1) * _length(wrapstring))


# Filters that never write their value out as text: no need to measure it.
_NO_TEXT_FILTERS = frozenset({"length", "count", "first", "last", "list", "sort", "unique", "reverse", "select",
                              "reject", "selectattr", "rejectattr", "map", "batch", "slice", "sum", "min", "max",
                              "dictsort", "groupby", "items", "attr", "default", "d", "random", "join"})


def metered_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """*func* (a Jinja filter) with its value checked before and after it runs."""
    pass_arg = getattr(func, "jinja_pass_arg", None)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value_at = 0 if pass_arg is None else 1  # context, eval context or environment first
        if len(args) > value_at:
            value = args[value_at]
            if name == "join" and not isinstance(value, (list, tuple, str)) and hasattr(value, "__iter__"):
                value = list(steps(value))  # a lazy map or select: measure what it holds
                args = (*args[:value_at], value, *args[value_at + 1:])
            _check_filter(name, value, args[value_at + 1:], kwargs)
        event()
        return built(func(*args, **kwargs))

    return wrapper


def finalize_counter(clean: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A Jinja ``finalize``: each value written is cleaned, and counted against the render's total."""

    def finalize(value: Any) -> Any:
        value = clean(check_text(value))
        if isinstance(value, str):
            budget = _CURRENT.get()
            if budget is not None:
                budget.add_built(len(value))
                budget.event()
        return value

    return finalize


def collect(chunks: Iterable[str]) -> str:
    """The report's text from the template's stream of chunks, refused once past :data:`MAX_OUTPUT`."""
    budget = _CURRENT.get() or Budget()
    parts: list[str] = []
    for chunk in chunks:
        budget.add_output(len(chunk))
        budget.event()
        parts.append(chunk)
    return "".join(parts)


def small_range(*args: int) -> range:
    """``range()`` for templates: at most :data:`MAX_RANGE` items."""
    event()
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise LimitError(f"asked for a range() of {len(rng):,} items (at most {MAX_RANGE:,})")
    return rng
