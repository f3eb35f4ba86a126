"""Quantities parse exactly as Kubernetes' resource.ParseQuantity, rounding up like MilliValue/Value."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from modelplane.spec import (
    Cpu,
    Duration,
    GpuCount,
    IntOrPercent,
    Memory,
    QuantityError,
    format_cpu,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_gpu,
    parse_memory,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("500m", 500),
        ("2", 2000),
        ("0.5", 500),
        ("1.5", 1500),
        (2, 2000),
        (0.5, 500),
        (1.5, 1500),
        ("1000m", 1000),
        ("0", 0),
        ("+1", 1000),
        (".5", 500),  # Kubernetes accepts a missing whole part ...
        ("5.", 5000),  # ... and a missing fraction.
        ("007", 7000),
        ("1e3", 1_000_000),
        ("1E3", 1_000_000),
        ("1e-3", 1),
        ("0.001", 1),
        ("0.0001", 1),  # below 1m rounds up to 1m, as MilliValue()
        ("100u", 1),
        ("1n", 1),
        ("1000000n", 1),
        ("1500000n", 2),
        ("1k", 1_000_000),
        ("1Ki", 1_024_000),
        ("-0", 0),
        (" 2 ", 2000),  # surrounding blanks are trimmed, as Quantity.UnmarshalJSON does
    ],
)
def test_cpu_parses_like_kubernetes(text: object, millis: int) -> None:
    assert parse_cpu(text) == millis


@pytest.mark.parametrize(
    ("text", "n_bytes"),
    [
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("1G", 10**9),
        ("1e9", 10**9),
        ("1E3", 1000),
        ("1e+3", 1000),
        ("128974848", 128974848),
        ("129e6", 129_000_000),
        ("129M", 129_000_000),
        ("123Mi", 128974848),
        ("1Ki", 2**10),
        ("1Mi", 2**20),
        ("1Ti", 2**40),
        ("1Pi", 2**50),
        ("1Ei", 2**60),
        ("1k", 10**3),
        ("1M", 10**6),
        ("1T", 10**12),
        ("1P", 10**15),
        ("1E", 10**18),  # a lone E is exa, not an exponent
        ("1.5Gi", 1610612736),
        ("0.1Ki", 103),  # 102.4 bytes round up
        ("0.5", 1),
        ("1m", 1),  # a thousandth of a byte rounds up to one byte
        ("1n", 1),
        ("1u", 1),
        ("1e-3", 1),
        (1e9, 10**9),
        (2, 2),
        ("0", 0),
    ],
)
def test_memory_parses_like_kubernetes(text: object, n_bytes: int) -> None:
    assert parse_memory(text) == n_bytes


@pytest.mark.parametrize(
    "text",
    [
        "12MB",
        "1.5.3",
        "1.1.M",
        "1+1.0M",
        "0.1mi",
        "0.1am",
        "aoeu",
        ".5i",
        "1i",
        "1K",
        "1e",
        "1ee3",
        "1e1.3",
        "1Mi3",
        "1 Gi",
        "",
        ".",
        "+",
        "-",
        "1e999",
        True,
        None,
        [1],
        float("nan"),
        float("inf"),
    ],
)
def test_bad_quantities_are_refused_with_examples(text: object) -> None:
    with pytest.raises(QuantityError, match=r"e\.g\."):
        parse_memory(text)
    with pytest.raises(QuantityError):
        parse_cpu(text)


def test_memory_errors_suggest_the_suffix_meant() -> None:
    with pytest.raises(QuantityError, match=r"Did you mean 12M \(decimal\) or 12Mi \(binary\)\?"):
        parse_memory("12MB")
    with pytest.raises(QuantityError, match=r"Did you mean 1Gi\?"):
        parse_memory("1gi")


@pytest.mark.parametrize("text", ["-1", "-500m", "-1Gi", -2])
def test_negative_quantities_are_refused(text: object) -> None:
    with pytest.raises(QuantityError, match="must not be negative"):
        parse_cpu(text)
    with pytest.raises(QuantityError, match="must not be negative"):
        parse_memory(text)


def test_values_beyond_int64_are_refused() -> None:
    with pytest.raises(QuantityError, match="too large"):
        parse_memory("9Ei")
    with pytest.raises(QuantityError, match="too large"):
        parse_cpu("1E")


def test_parse_quantity_is_exact() -> None:
    assert parse_quantity("1.5Gi") == Fraction(3 * 2**29)
    assert parse_quantity("100u") == Fraction(1, 10_000)
    assert parse_quantity("-2") == -2


@pytest.mark.parametrize(("value", "gpus"), [(0, 0), (1, 1), ("2", 2), (2.0, 2), ("1k", 1000)])
def test_gpu_counts_are_whole_numbers(value: object, gpus: int) -> None:
    assert parse_gpu(value) == gpus


@pytest.mark.parametrize("value", [0.5, "0.5", "500m", 1.25])
def test_fractional_gpus_are_refused_as_whole_devices(value: object) -> None:
    with pytest.raises(QuantityError, match=r"GPUs are whole devices; got .*Use a whole number such as 1"):
        parse_gpu(value)


@pytest.mark.parametrize("value", [-1, "-1", True, "one", None])
def test_bad_gpu_counts_are_refused(value: object) -> None:
    with pytest.raises(QuantityError, match="GPU"):
        parse_gpu(value)


def test_cpu_and_memory_keep_the_users_text_and_compare_by_value() -> None:
    assert Cpu.parse("1") == Cpu.parse("1000m")
    assert str(Cpu.parse("1000m")) == "1000m"
    assert Cpu.parse("500m") < Cpu.parse("1")
    assert Cpu.parse("1.5").cores == 1.5
    assert Memory.parse("1Gi") == Memory.parse("1024Mi")
    assert str(Memory.parse("1024Mi")) == "1024Mi"
    assert Memory.parse("1G") < Memory.parse("1Gi")
    assert str(Memory.from_bytes(2**30)) == "1Gi"
    assert str(Cpu.from_millis(250)) == "250m"
    assert hash(Cpu.parse("1")) == hash(Cpu.parse("1000m"))


class _Holder(BaseModel):
    cpu: Cpu
    memory: Memory
    surge: IntOrPercent
    gpu: GpuCount
    pause: Duration


def test_pydantic_types_serialise_back_to_the_kubernetes_form() -> None:
    holder = _Holder.model_validate({"cpu": 0.5, "memory": "1Gi", "surge": "25%", "gpu": "1", "pause": "1m"})
    assert holder.cpu.millis == 500
    assert holder.memory.bytes == 2**30
    assert holder.pause == 60.0
    dumped = holder.model_dump(mode="json")
    assert dumped == {"cpu": "0.5", "memory": "1Gi", "surge": "25%", "gpu": 1, "pause": 60.0}
    assert _Holder.model_validate(dumped) == holder


@pytest.mark.parametrize(
    ("millis", "text"), [(0, "0"), (500, "500m"), (1000, "1"), (1500, "1500m"), (2000, "2")]
)
def test_format_cpu(millis: int, text: str) -> None:
    assert format_cpu(millis) == text


@pytest.mark.parametrize(
    ("n_bytes", "text"),
    [
        (0, "0"),
        (1024, "1Ki"),
        (2**30, "1Gi"),
        (1536 * 2**20, "1536Mi"),
        (10**9, "1G"),
        (1000, "1k"),
        (7, "7"),
    ],
)
def test_format_memory(n_bytes: int, text: str) -> None:
    assert format_memory(n_bytes) == text


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_cpu_format_then_parse_round_trips(millis: int) -> None:
    assert parse_cpu(format_cpu(millis)) == millis
    assert parse_cpu(f"{millis}m") == millis


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_memory_format_then_parse_round_trips(n_bytes: int) -> None:
    assert parse_memory(format_memory(n_bytes)) == n_bytes


@given(
    st.decimals(min_value=0, max_value=10**12, places=9, allow_nan=False, allow_infinity=False),
    st.sampled_from([("", 1), ("k", 10**3), ("Ki", 2**10), ("Mi", 2**20), ("m", Fraction(1, 1000))]),
)
def test_memory_rounds_any_decimal_up_to_whole_bytes(number: Decimal, suffix: tuple[str, object]) -> None:
    text, factor = suffix
    assert parse_memory(f"{number:f}{text}") == math.ceil(Fraction(number) * Fraction(str(factor)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, IntOrPercent(1)),
        (0, IntOrPercent(0)),
        ("25%", IntOrPercent(25, percent=True)),
        ("0%", IntOrPercent(0, True)),
    ],
)
def test_int_or_percent_parses(value: object, expected: IntOrPercent) -> None:
    assert IntOrPercent.parse(value) == expected


@pytest.mark.parametrize(
    ("value", "match"), [("25", "without '%'"), (-1, "negative"), ("x", "percentage"), (1.5, "percentage")]
)
def test_int_or_percent_refuses_bad_values(value: object, match: str) -> None:
    with pytest.raises(QuantityError, match=match):
        IntOrPercent.parse(value)


@pytest.mark.parametrize(
    ("value", "total", "up", "down"),
    [
        ("25%", 10, 3, 2),
        ("25%", 1, 1, 0),
        ("25%", 4, 1, 1),
        ("50%", 3, 2, 1),
        ("67%", 3, 3, 2),
        (2, 10, 2, 2),
    ],
)
def test_int_or_percent_scales_like_kubernetes(value: object, total: int, up: int, down: int) -> None:
    parsed = IntOrPercent.parse(value)
    assert parsed.scaled(total, round_up=True) == up
    assert parsed.scaled(total, round_up=False) == down


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30), ("1m", 60), ("1h30m", 5400), ("500ms", 0.5), ("1.5s", 1.5), (90, 90), ("90", 90), (0, 0)],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["1x", "", "s", "-1s", "1h 30m", -5, True, None, "1d"])
def test_bad_durations_show_examples(value: object) -> None:
    with pytest.raises(QuantityError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize("text", ["9" * 400, "9" * 400 + "s", "9" * 400 + "h"])
def test_a_duration_too_long_for_a_float_is_refused_not_infinite(text: str) -> None:
    with pytest.raises(QuantityError, match="too long for a duration"):
        parse_duration(text)
