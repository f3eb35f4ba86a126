"""Load profiles: the offered rate (req/s) as a function of time since the start of a load test.

A `Profile` is a frozen value; `rate_at(t)` is pure. `make_profile` validates what a user typed (the
CLI's flags) and raises `ProfileError` naming the flag at fault, so a nonsense value never starts a run.

    constant   rate                                  for the whole duration
    step       rate until `at`, then `to`
    spike      rate, `to` during [at, at + hold), then rate again
    ramp       rate until `at`, linear to `to` over `hold` seconds, then `to`
    replay     `rates[i]` during second i (a recorded per-second trace); 0 after its end

In the closed loop the same shapes give the number of concurrent clients instead of a rate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from modelplane.loadtest.errors import ProfileError

MAX_RATE = 1_000_000.0
"""Refused above this (req/s): a typo, not a load test."""


class Shape(StrEnum):
    CONSTANT = "constant"
    STEP = "step"
    SPIKE = "spike"
    RAMP = "ramp"
    REPLAY = "replay"


@dataclass(frozen=True, slots=True)
class Profile:
    shape: Shape
    duration: float
    rate: float = 0.0
    to: float = 0.0
    at: float = 0.0
    hold: float = 0.0
    rates: tuple[float, ...] = field(default=())

    def rate_at(self, t: float) -> float:
        """The offered rate at `t` seconds after the start (0 outside [0, duration))."""
        if t < 0 or t >= self.duration:
            return 0.0
        match self.shape:
            case Shape.CONSTANT:
                return self.rate
            case Shape.STEP:
                return self.to if t >= self.at else self.rate
            case Shape.SPIKE:
                return self.to if self.at <= t < self.at + self.hold else self.rate
            case Shape.RAMP:
                if t < self.at:
                    return self.rate
                if self.hold <= 0 or t >= self.at + self.hold:
                    return self.to
                return self.rate + (self.to - self.rate) * (t - self.at) / self.hold
            case Shape.REPLAY:
                second = int(t)
                return self.rates[second] if second < len(self.rates) else 0.0

    def scaled(self, factor: float) -> Profile:
        """The same shape at `factor` times the rate (a target's share of the total)."""
        return Profile(
            self.shape,
            self.duration,
            rate=self.rate * factor,
            to=self.to * factor,
            at=self.at,
            hold=self.hold,
            rates=tuple(r * factor for r in self.rates),
        )

    def peak(self) -> float:
        return max((self.rate, self.to, *self.rates), default=0.0)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"shape": str(self.shape), "duration": self.duration}
        if self.shape is Shape.REPLAY:
            out["rates"] = list(self.rates)
            return out
        out["rate"] = self.rate
        if self.shape is not Shape.CONSTANT:
            out |= {"to": self.to, "at": self.at}
        if self.shape in (Shape.SPIKE, Shape.RAMP):
            out["for"] = self.hold
        return out


def make_profile(
    shape: str,
    *,
    duration: float | None,
    rate: float | None,
    to: float | None = None,
    at: float | None = None,
    hold: float | None = None,
    rates: tuple[float, ...] | None = None,
    unit: str = "--rate",
) -> Profile:
    """The validated profile; `ProfileError` (naming the flag) for anything that makes no sense.

    Defaults: `at` a third of the duration for step and spike, 0 for ramp; `hold` a third of the
    duration for spike, the rest of the run for ramp; replay runs as long as its trace unless
    `duration` is given. `unit` is the flag that carries the base level (`--rate` or `--clients`).
    """
    try:
        kind = Shape(shape)
    except ValueError:
        choices = ", ".join(s.value for s in Shape)
        raise ProfileError("--profile", f"{shape!r} is not a profile; choose one of {choices}.") from None
    if kind is Shape.REPLAY:
        if not rates:
            raise ProfileError("--rates-file", "--profile replay needs --rates-file (one rate per second).")
        for flag, value in (("--to", to), ("--at", at), ("--for", hold)):
            if value is not None:
                raise ProfileError(
                    flag, f"{flag} does not apply to --profile replay; the trace sets the rate."
                )
        length = float(len(rates)) if duration is None else _positive("--duration", duration)
        return Profile(kind, length, rates=rates)
    if rates:
        raise ProfileError("--rates-file", "--rates-file only applies to --profile replay.")
    length = _positive("--duration", 30.0 if duration is None else duration)
    base = _rate(unit, rate)
    if kind is Shape.CONSTANT:
        for flag, value in (("--to", to), ("--at", at), ("--for", hold)):
            if value is not None:
                raise ProfileError(
                    flag, f"{flag} does not apply to --profile constant; pick step, spike or ramp."
                )
        return Profile(kind, length, rate=base)
    if to is None:
        raise ProfileError("--to", f"--profile {kind} needs --to (the {unit.strip('-')} to go to).")
    target = _rate("--to", to)
    start = _time("--at", (0.0 if kind is Shape.RAMP else length / 3) if at is None else at, length)
    if kind is Shape.STEP:
        if hold is not None:
            raise ProfileError("--for", "--for does not apply to --profile step (it holds to the end).")
        return Profile(kind, length, rate=base, to=target, at=start)
    default_hold = length / 3 if kind is Shape.SPIKE else length - start
    span = _positive("--for", default_hold) if hold is None else _positive("--for", hold)
    if start + span > length + 1e-9 and hold is not None:
        raise ProfileError(
            "--for", f"--at {start:g}s plus --for {span:g}s ends after --duration {length:g}s; shorten one."
        )
    return Profile(kind, length, rate=base, to=target, at=start, hold=span)


def read_rates(path: Path) -> tuple[float, ...]:
    """A per-second trace: a JSON list of numbers, or one number per line (`#` comments, blank lines)."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ProfileError("--rates-file", f"cannot read {path}: {error.strerror or error}.") from None
    values: list[object]
    if text.lstrip().startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError as error:
            raise ProfileError("--rates-file", f"{path} is not a JSON list of numbers: {error}.") from None
        values = loaded if isinstance(loaded, list) else [loaded]
        where = [f"item {i + 1}" for i in range(len(values))]
    else:
        lines = [(n, line.split("#", 1)[0].strip()) for n, line in enumerate(text.splitlines(), 1)]
        kept = [(n, line) for n, line in lines if line]
        values = [line for _, line in kept]
        where = [f"line {n}" for n, _ in kept]
    rates = []
    for value, place in zip(values, where, strict=True):
        try:
            number = (
                float(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
            )
        except ValueError:
            number = None
        if number is None or not math.isfinite(number) or number < 0 or number > MAX_RATE:
            raise ProfileError(
                "--rates-file", f"{path} {place}: {value!r} is not a rate (a number of req/s, 0 or more)."
            )
        rates.append(number)
    if not rates:
        raise ProfileError("--rates-file", f"{path} holds no rate; write one number of req/s per second.")
    return tuple(rates)


def _positive(flag: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ProfileError(flag, f"{flag} must be more than 0, not {value:g}.")
    return float(value)


def _rate(flag: str, value: float | None) -> float:
    if value is None:
        raise ProfileError(flag, f"{flag} is required.")
    if not math.isfinite(value) or value < 0 or value > MAX_RATE:
        raise ProfileError(flag, f"{flag} must be a number from 0 to {MAX_RATE:g}, not {value:g}.")
    return float(value)


def _time(flag: str, value: float, duration: float) -> float:
    if not math.isfinite(value) or value < 0 or value >= duration:
        raise ProfileError(
            flag, f"{flag} must fall within the run (0 to --duration {duration:g}s), not {value:g}s."
        )
    return float(value)
