"""Weekly rosters: the days of the week a detective works, as a clock of working time.

Without a roster a detective present at work supplies ``fte × hours_per_week / 7`` hours every
calendar day. With one, the same weekly hours are supplied on the roster's working days only:
``fte × hours_per_week / n`` hours on each of the ``n`` working days, none on the others.

The engine measures work in *working time*: :meth:`WeeklyClock.work_time` is the number of
working days between day 0 and a moment (fractions of a day count on a working day), and
:meth:`WeeklyClock.calendar_time` is its inverse. A block of ``h`` hours at ``r`` hours per working
day started at ``t`` ends at ``calendar_time(work_time(t) + h / r)``: if it reaches the end of a
Friday it resumes on Monday (for a Monday-to-Friday roster) and ends there.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["WEEKDAYS", "WeeklyClock"]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WeeklyClock:
    """Working time of a weekly roster.

    Args:
        working_days: the weekdays worked, by name (``"mon"`` … ``"sun"``).
        day_0_weekday: the weekday of simulation day 0.
    """

    __slots__ = ("_cum", "_first_on", "_last_on", "_on", "_per_week", "_shift", "_w_shift")

    def __init__(self, working_days: Sequence[str], day_0_weekday: str = "mon") -> None:
        on = [1.0 if day in working_days else 0.0 for day in WEEKDAYS]
        unknown = set(working_days) - set(WEEKDAYS)
        if unknown or not any(on):
            raise ValueError(f"a roster needs at least one weekday of {WEEKDAYS}, not {unknown}")
        cum = [0.0]
        for value in on:
            cum.append(cum[-1] + value)
        self._on = tuple(on)
        self._cum = tuple(cum)
        self._per_week = cum[7]
        self._first_on = on.index(1.0)
        self._last_on = 6 - on[::-1].index(1.0)
        self._shift = float(WEEKDAYS.index(day_0_weekday))
        self._w_shift = self._cumulative(self._shift)

    @property
    def days_per_week(self) -> int:
        """Working days in a week."""
        return int(self._per_week)

    def _cumulative(self, u: float) -> float:
        """Working days from Monday 00:00 of week 0 to ``u`` days later."""
        weeks, rest = divmod(u, 7.0)
        day = min(int(rest), 6)
        return weeks * self._per_week + self._cum[day] + (rest - day) * self._on[day]

    def work_time(self, day: float) -> float:
        """Working days between day 0 and ``day``."""
        return self._cumulative(day + self._shift) - self._w_shift

    def calendar_time(self, work: float) -> float:
        """The earliest day (≥ 0) at which :meth:`work_time` reaches ``work``."""
        target = work + self._w_shift
        weeks, rest = divmod(target, self._per_week)
        if rest <= 0.0:
            # Exactly a whole number of weeks' work: reached at the end of the previous week's
            # last working day (a block ending on a Friday evening ends then, not on Monday).
            u = 7.0 * (weeks - 1.0) + self._last_on + 1.0
        else:
            cum = self._cum
            on = self._on
            day = self._first_on
            for candidate in range(7):
                if on[candidate] and rest <= cum[candidate + 1]:
                    day = candidate
                    break
            u = 7.0 * weeks + day + (rest - cum[day])
        return max(u - self._shift, 0.0)

    def is_working(self, day: float) -> bool:
        """Whether ``day`` falls on a working day of the roster."""
        return self._on[int((day + self._shift) % 7.0) % 7] > 0.0

    def next_start(self, day: float) -> float:
        """``day`` itself on a working day, else the start of the next working day."""
        if self.is_working(day):
            return day
        u = day + self._shift
        start = float(int(u // 1.0))
        weekday = int(start % 7.0)
        for ahead in range(1, 8):
            if self._on[(weekday + ahead) % 7]:
                return start + ahead - self._shift
        raise AssertionError("unreachable: a roster has a working day")  # pragma: no cover
