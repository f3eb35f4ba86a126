"""Kubernetes quantities (`500m`, `1Gi`, `1e9`), GPU counts, int-or-percent (`25%`) and durations (`1m30s`).

Parsing follows Kubernetes' `resource.ParseQuantity`: an optional sign, digits with an optional
fraction, then one suffix — binary (Ki Mi Gi Ti Pi Ei), decimal SI (n u m k M G T P E) or a decimal
exponent (`e3`, `E-2`). Values are exact (Fractions), and are rounded *up* to whole millicores (CPU) or
whole bytes (memory) the way `Quantity.MilliValue()` / `Value()` do, so asking for a sliver of a
resource always gets some of it.

Invariants: a `Cpu` or `Memory` keeps the user's text for display and serialises back to it; equality
and ordering use the canonical integer only (`Cpu.parse("1") == Cpu.parse("1000m")`). Quantities are
never negative. Two deliberate differences from Kubernetes: a lone sign or dot (`+`, `.`) is rejected
rather than read as zero, and values above 2^63-1 are rejected rather than capped.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import total_ordering
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, GetCoreSchemaHandler, GetJsonSchemaHandler, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from modelplane.spec.bounds import INT32_MAX
from modelplane.spec.errors import QuantityError

MAX_VALUE = 2**63 - 1
_MAX_EXPONENT = 100
_MAX_DIGITS = 60

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<whole>[0-9]*)(?:\.(?P<frac>[0-9]*))?(?P<suffix>[eEinumkKMGTP]*[+-]?[0-9]*)"
)
_QUANTITY_PATTERN = r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eEinumkKMGTP]*[+-]?[0-9]*)$"

CPU_EXAMPLES = "Use cores or millicores, e.g. 2, 0.5, 1.5 or 500m."
MEMORY_EXAMPLES = (
    "Use bytes with an optional suffix, e.g. 512Mi, 1Gi, 1G, 1e9 or 134217728 "
    "(binary: Ki Mi Gi Ti Pi Ei; decimal: k M G T P E)."
)
GPU_EXAMPLES = "GPUs are whole devices. Use a whole number such as 1."


def _scalar_text(value: object) -> str:
    """The text of a YAML scalar that stands for a quantity; YAML may hand us an int or float."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuantityError(f"expected a quantity; got {value!r}.")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"expected a finite quantity; got {value!r}.")
        return repr(value)
    return str(value)


def _suffix_hint(text: str) -> str:
    """A hint for the usual mistakes: `12MB`, `1gi`, `1GB`."""
    match = re.fullmatch(r"([0-9.]+)\s*([kKmMgGtTpPeE])(i?)[bB]?", text.strip())
    if match is None:
        return ""
    number, letter, binary = match.groups()
    upper = "k" if letter in "kK" else letter.upper()
    decimal = f"{number}{upper}"
    binary_form = f"{number}{letter.upper()}i"
    if binary and binary_form != text:
        return f" Did you mean {binary_form}?"
    if decimal != text:
        return f" Did you mean {decimal} (decimal) or {binary_form} (binary)?"
    return ""


def parse_quantity(value: object) -> Fraction:
    """The exact value of a Kubernetes quantity such as `500m`, `1Gi`, `1.5`, `1e9`; may be negative."""
    text = _scalar_text(value).strip()
    match = _QUANTITY.fullmatch(text)
    if match is None or not (match["whole"] or match["frac"]):
        raise QuantityError(f"{text!r} is not a quantity.")
    whole, frac = match["whole"] or "0", match["frac"] or ""
    if len(whole) + len(frac) > _MAX_DIGITS:
        raise QuantityError(f"{text!r} has too many digits.")
    amount = Fraction(int(whole + frac), 10 ** len(frac))
    amount *= _suffix_factor(match["suffix"], text)
    return -amount if match["sign"] == "-" else amount


def _suffix_factor(suffix: str, text: str) -> Fraction:
    if suffix in _DECIMAL_SUFFIXES:
        return Fraction(10) ** _DECIMAL_SUFFIXES[suffix]
    if suffix in _BINARY_SUFFIXES:
        return Fraction(2 ** _BINARY_SUFFIXES[suffix])
    if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[+-]?[0-9]+", suffix[1:]):
        exponent = int(suffix[1:])
        if abs(exponent) > _MAX_EXPONENT:
            raise QuantityError(f"{text!r} is out of range.")
        return Fraction(10) ** exponent
    raise QuantityError(f"{text!r} has an unknown suffix {suffix!r}.")


def _non_negative_ceil(value: object, *, scale: int, what: str, examples: str) -> int:
    try:
        amount = parse_quantity(value)
    except QuantityError as exc:
        hint = _suffix_hint(str(value)) if what == "memory" else ""
        raise QuantityError(f"{exc} {examples}{hint}") from None
    if amount < 0:
        raise QuantityError(f"{what} must not be negative; got {value}. {examples}")
    scaled = math.ceil(amount * scale)
    if scaled > MAX_VALUE:
        raise QuantityError(f"{what} {value} is too large. {examples}")
    return scaled


def parse_cpu(value: object) -> int:
    """Millicores of a CPU quantity (`500m` → 500, `2` → 2000, `0.0001` → 1: rounds up)."""
    return _non_negative_ceil(value, scale=1000, what="CPU", examples=CPU_EXAMPLES)


def parse_memory(value: object) -> int:
    """Bytes of a memory quantity (`1Gi` → 1073741824, `1e3` → 1000, `0.5` → 1: rounds up)."""
    return _non_negative_ceil(value, scale=1, what="memory", examples=MEMORY_EXAMPLES)


def parse_gpu(value: object) -> int:
    """A GPU count: a whole, non-negative number (`1`, `"2"`); `0.5` is refused."""
    try:
        amount = parse_quantity(value)
    except QuantityError:
        raise QuantityError(f"expected a GPU count; got {value!r}. {GPU_EXAMPLES}") from None
    if amount < 0:
        raise QuantityError(f"GPU count must not be negative; got {value}. {GPU_EXAMPLES}")
    if amount.denominator != 1:
        raise QuantityError(f"GPUs are whole devices; got {value}. Use a whole number such as 1.")
    if amount > MAX_VALUE:
        raise QuantityError(f"GPU count {value} is too large.")
    return int(amount)


def format_cpu(millis: int) -> str:
    """Canonical text of a CPU amount: `2`, `500m`."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory(n_bytes: int) -> str:
    """Canonical text of a memory amount: the largest exact binary suffix, else decimal, else bytes."""
    if n_bytes == 0:
        return "0"
    for suffix, exponent in reversed(_BINARY_SUFFIXES.items()):
        if n_bytes % (1 << exponent) == 0:
            return f"{n_bytes >> exponent}{suffix}"
    for suffix in ("E", "P", "T", "G", "M", "k"):
        unit = 10 ** _DECIMAL_SUFFIXES[suffix]
        if n_bytes % unit == 0:
            return f"{n_bytes // unit}{suffix}"
    return str(n_bytes)


def _pydantic_schema(cls: Any, examples: list[Any]) -> tuple[CoreSchema, JsonSchemaValue]:
    core = core_schema.no_info_plain_validator_function(
        cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(cls.to_yaml)
    )
    json_schema: JsonSchemaValue = {
        "anyOf": [{"type": "string", "pattern": _QUANTITY_PATTERN}, {"type": "number", "minimum": 0}],
        "examples": examples,
    }
    return core, json_schema


class _Value:
    """Base of the value types below: immutable, equal and hashable by `_key()`.

    Not dataclasses on purpose: pydantic would then write their defaults into the JSON Schema as
    objects instead of the Kubernetes strings their serialisers produce.
    """

    __slots__ = ()

    def _key(self) -> tuple[int, ...]:
        raise NotImplementedError

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Value) and type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


@total_ordering
class Cpu(_Value):
    """A CPU amount: `millis` (canonical millicores) plus the text the user wrote."""

    __slots__ = ("millis", "text")
    millis: int
    text: str

    def __init__(self, millis: int, text: str = "") -> None:
        object.__setattr__(self, "millis", millis)
        object.__setattr__(self, "text", text)

    def _key(self) -> tuple[int, ...]:
        return (self.millis,)

    @classmethod
    def parse(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        return cls(parse_cpu(value), _scalar_text(value).strip())

    @classmethod
    def from_millis(cls, millis: int) -> Self:
        return cls(millis, format_cpu(millis))

    @property
    def cores(self) -> float:
        return self.millis / 1000

    def to_yaml(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return self.text or format_cpu(self.millis)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Cpu):
            return NotImplemented
        return self.millis < other.millis

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return _pydantic_schema(cls, ["500m", "2"])[0]

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return _pydantic_schema(cls, ["500m", "2"])[1]


@total_ordering
class Memory(_Value):
    """A memory amount: `bytes` (canonical) plus the text the user wrote."""

    __slots__ = ("bytes", "text")
    bytes: int
    text: str

    def __init__(self, n_bytes: int, text: str = "") -> None:
        object.__setattr__(self, "bytes", n_bytes)
        object.__setattr__(self, "text", text)

    def _key(self) -> tuple[int, ...]:
        return (self.bytes,)

    @classmethod
    def parse(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        return cls(parse_memory(value), _scalar_text(value).strip())

    @classmethod
    def from_bytes(cls, n_bytes: int) -> Self:
        return cls(n_bytes, format_memory(n_bytes))

    def to_yaml(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return self.text or format_memory(self.bytes)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Memory):
            return NotImplemented
        return self.bytes < other.bytes

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return _pydantic_schema(cls, ["512Mi", "1Gi"])[0]

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return _pydantic_schema(cls, ["512Mi", "1Gi"])[1]


class IntOrPercent(_Value):
    """Kubernetes IntOrString for counts: a whole number of replicas (`1`) or a percentage (`25%`)."""

    __slots__ = ("percent", "value")
    value: int
    percent: bool

    def __init__(self, value: int, percent: bool = False) -> None:
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "percent", percent)

    def _key(self) -> tuple[int, ...]:
        return (self.value, int(self.percent))

    @classmethod
    def parse(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise QuantityError(f"must not be negative; got {value}. Use e.g. 1 or 25%.")
            if value > INT32_MAX:  # Kubernetes' IntOrString holds an int32
                raise QuantityError(
                    f"must be ≤ {INT32_MAX:,} (the largest 32-bit integer, as Kubernetes stores this "
                    f"field); got {value}. Use a smaller number, e.g. 1 or 25%."
                )
            return cls(value)
        if isinstance(value, str):
            match = re.fullmatch(r"\s*([0-9]{1,9})\s*%\s*", value)
            if match:
                return cls(int(match[1]), percent=True)
            if re.fullmatch(r"\s*[0-9]+\s*", value):
                raise QuantityError(
                    f"{value!r} is a string without '%'. Write a percentage such as {value.strip()}% "
                    f"or an unquoted whole number such as {value.strip()}."
                )
        raise QuantityError(f"expected a whole number or a percentage; got {value!r}. Use e.g. 1 or 25%.")

    def scaled(self, total: int, *, round_up: bool) -> int:
        """The count for `total` replicas, as Kubernetes' GetScaledValueFromIntOrPercent."""
        if not self.percent:
            return self.value
        exact = Fraction(self.value * total, 100)
        return math.ceil(exact) if round_up else math.floor(exact)

    def to_yaml(self) -> int | str:
        return f"{self.value}%" if self.percent else self.value

    def __str__(self) -> str:
        return str(self.to_yaml())

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(cls.to_yaml)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": INT32_MAX},
                {"type": "string", "pattern": r"^[0-9]+%$"},
            ],
            "examples": [1, "25%"],
        }


_DURATION_UNITS = {"ms": Fraction(1, 1000), "s": Fraction(1), "m": Fraction(60), "h": Fraction(3600)}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ms|s|m|h)")
DURATION_EXAMPLES = "Use e.g. 30s, 1m, 1h30m, 500ms or a number of seconds such as 90."


def parse_duration(value: object) -> float:
    """Seconds of a duration: `30s`, `1m`, `1h30m`, `500ms`, or a plain number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise QuantityError(f"a duration must be a non-negative number of seconds; got {value}.")
        return float(value)
    if not isinstance(value, str):
        raise QuantityError(f"expected a duration; got {value!r}. {DURATION_EXAMPLES}")
    text = value.strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]*)?", text):
        return _finite(float(text), value)
    parts = _DURATION_PART.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise QuantityError(f"{value!r} is not a duration. {DURATION_EXAMPLES}")
    total = sum((Fraction(number) * _DURATION_UNITS[unit] for number, unit in parts), Fraction(0))
    try:
        return _finite(float(total), value)
    except OverflowError:
        return _finite(math.inf, value)


def _finite(seconds: float, value: object) -> float:
    if not math.isfinite(seconds):
        shown = str(value) if len(str(value)) <= 20 else str(value)[:17] + "..."
        raise QuantityError(f"{shown!r} is too long for a duration; write a finite one such as 1h30m.")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ms|s|m|h))+$"},
                {"type": "number", "minimum": 0},
            ],
            "examples": ["30s", "1m30s", 60],
        }
    ),
]
"""A duration in seconds (float); YAML may write `30s`, `1m`, `1h30m`, `500ms` or plain seconds."""

GpuCount = Annotated[
    int,
    BeforeValidator(parse_gpu),
    WithJsonSchema({"type": "integer", "minimum": 0, "examples": [0, 1]}),
]
"""A whole, non-negative number of GPUs."""
