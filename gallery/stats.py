"""Statistics for gallery ratings: means, agreement, shares and choice-model strengths."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import choix
import krippendorff
import numpy as np
from scipy import stats

# I-LSR stops at choix's default of 100 iterations; weakly regularised, lopsided data can need
# more before the strengths settle, and a fit that gives up would sink the whole bootstrap.
_ILSR_MAX_ITER = 1000

# Below this many scores a t interval is a formality: with n=2 its half-width is 12.7 standard
# errors and runs far off any rating scale. The page says "too few scores" instead.
MIN_SCORES_FOR_INTERVAL = 3
TOO_FEW_SCORES = "too few scores"
ALL_EQUAL = "all scores equal: no spread to build an interval from"
# A Bradley-Terry interval needs each item compared this often; fewer comparisons resample to
# nearly the same few patterns and give a narrow interval that claims too much.
MIN_COMPARISONS_FOR_INTERVAL = 5


@dataclass(frozen=True)
class Estimate:
    """A point estimate with an optional interval and the number of observations behind it."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    # Why there is no interval, or how it was bounded; empty when the interval stands as computed.
    note: str = ""


@dataclass(frozen=True)
class Choice:
    """One trial of a "pick the best" task: who chose, what they chose, what else was shown."""

    group: str
    winner: str
    losers: tuple[str, ...]


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def mean_ci(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
    min_n: int = MIN_SCORES_FOR_INTERVAL,
) -> Estimate:
    """Mean of `values` with a Student-t confidence interval.

    With fewer than `min_n` values there is no interval and the note says "too few scores";
    nor is there one when every value is the same (a zero width would claim certainty).
    With `bounds` (the rating scale's ends) the interval is clipped to them and the note says
    so: a mean cannot leave the scale, so the clipped part holds no possible value.
    Raises ValueError if confidence is not in (0, 1), min_n < 2, bounds are not increasing,
    or a value is not finite or lies outside `bounds`.
    """
    _check_confidence(confidence)
    if min_n < 2:
        raise ValueError(f"min_n must be at least 2, got {min_n}")
    if bounds is not None and not bounds[0] < bounds[1]:
        raise ValueError(f"bounds must be (low, high) with low < high, got {bounds}")
    data = np.asarray(values, dtype=float).reshape(-1)
    n = int(data.size)
    if n == 0:
        return Estimate(None, None, None, 0)
    if not np.isfinite(data).all():
        raise ValueError("values must be finite numbers")
    if bounds is not None and ((data < bounds[0]).any() or (data > bounds[1]).any()):
        raise ValueError(f"values must lie within {bounds[0]:g} to {bounds[1]:g}")
    # Averaging equal floats can be off by an ulp, which would turn a zero-width interval into
    # a hair-thin one; identical ratings deserve the exact answer.
    mean = float(data[0]) if (data == data[0]).all() else float(data.mean())
    if n < min_n:
        return Estimate(mean, None, None, n, TOO_FEW_SCORES)
    if (data == data[0]).all():
        # A zero-width interval would claim a certainty a few equal scores do not give.
        return Estimate(mean, None, None, n, ALL_EQUAL)
    half_width = float(stats.t.ppf((1 + confidence) / 2, df=n - 1) * data.std(ddof=1) / np.sqrt(n))
    low, high = mean - half_width, mean + half_width
    if bounds is not None and (low < bounds[0] or high > bounds[1]):
        low, high = float(max(low, bounds[0])), float(min(high, bounds[1]))
        return Estimate(mean, low, high, n, f"clipped to the {bounds[0]:g}-{bounds[1]:g} scale")
    return Estimate(mean, low, high, n)


def krippendorff_alpha_ordinal(
    reliability: np.ndarray, *, value_domain: Sequence[float] | None = None
) -> float | None:
    """Krippendorff's alpha for ordinal data, or None where alpha is undefined.

    `reliability` is raters x units with np.nan for missing ratings.
    Raises ValueError if the array is not 2-D or holds a value outside `value_domain`.
    """
    data = np.asarray(reliability, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"reliability must be a raters x units array, got {data.ndim} dimensions")
    rated = ~np.isnan(data)
    # Only units rated at least twice yield pairs; a lone rating says nothing about agreement.
    pairable_units = rated.sum(axis=0) >= 2
    if pairable_units.sum() < 2:
        return None
    pairable = data[:, pairable_units]
    pairable = pairable[~np.isnan(pairable)]
    # Without variation the expected disagreement is 0 and alpha is 0/0.
    if (pairable == pairable[0]).all():
        return None
    alpha = krippendorff.alpha(
        reliability_data=data,
        value_domain=None if value_domain is None else np.asarray(value_domain, dtype=float),
        level_of_measurement="ordinal",
    )
    return float(alpha) if np.isfinite(alpha) else None


def icc2k(ratings: np.ndarray) -> float | None:
    """ICC(2,k) of Shrout & Fleiss (1979): two-way random, absolute agreement, mean of k raters.

    `ratings` is units x raters. Returns None for fewer than 2 units or raters or a zero
    denominator. Raises ValueError if the array is not 2-D or a rating is missing.
    """
    # Written out with numpy: pingouin would pull statsmodels, seaborn and scikit-learn for one
    # formula.
    data = np.asarray(ratings, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"ratings must be a units x raters array, got {data.ndim} dimensions")
    if np.isnan(data).any():
        raise ValueError("ICC needs every rater to rate every item")
    n, k = data.shape
    if n < 2 or k < 2:
        return None
    grand = data.mean()
    between_units = k * ((data.mean(axis=1) - grand) ** 2).sum()
    between_raters = n * ((data.mean(axis=0) - grand) ** 2).sum()
    residual = ((data - grand) ** 2).sum() - between_units - between_raters
    bms = between_units / (n - 1)
    jms = between_raters / (k - 1)
    ems = residual / ((n - 1) * (k - 1))
    denominator = bms + (jms - ems) / n
    # Identical ratings everywhere leave every mean square at 0 (up to rounding).
    if denominator == 0 or np.ptp(data) == 0:
        return None
    return float((bms - ems) / denominator)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Estimate:
    """Share successes/n with its Wilson score interval.

    Raises ValueError if successes is negative or exceeds n, or confidence is not in (0, 1).
    """
    _check_confidence(confidence)
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return Estimate(None, None, None, 0)
    interval = stats.binomtest(successes, n).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return Estimate(successes / n, float(interval.low), float(interval.high), n)


def _fit_top1(
    n_items: int,
    trials: list[tuple[int, list[int]]],
    regularization: float,
    initial: np.ndarray | None = None,
) -> np.ndarray:
    return choix.ilsr_top1(
        n_items,
        trials,
        alpha=regularization,
        initial_params=initial,
        max_iter=_ILSR_MAX_ITER,
    )


def bradley_terry(
    choices: Sequence[Choice],
    *,
    items: Sequence[str] | None = None,
    resamples: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
    regularization: float = 0.01,
) -> dict[str, Estimate]:
    """Centred log-strengths of a Luce choice model with participant-bootstrap intervals.

    Items never shown get Estimate(None, None, None, 0). An interval is None, with a note
    saying why, with fewer than 2 groups, for an item in fewer than
    MIN_COMPARISONS_FOR_INTERVAL trials, one never or always chosen (its strength is the
    regulariser's, not the data's), or where every resample gives the same value.
    Raises ValueError for an item missing from `items`, regularization <= 0, resamples < 0
    or confidence not in (0, 1); RuntimeError if a fit does not converge.
    """
    _check_confidence(confidence)
    if regularization <= 0:
        raise ValueError(f"regularization must be positive, got {regularization}")
    if resamples < 0:
        raise ValueError(f"resamples must not be negative, got {resamples}")

    names = list(dict.fromkeys(items)) if items is not None else []
    known = set(names)
    trials: list[tuple[str, str, tuple[str, ...]]] = []
    for choice in choices:
        losers = tuple(dict.fromkeys(x for x in choice.losers if x != choice.winner))
        # A trial that showed a single item compared it with nothing.
        if not losers:
            continue
        for name in (choice.winner, *losers):
            if name not in known:
                if items is not None:
                    raise ValueError(f"choice names {name!r}, which is not among the items")
                known.add(name)
                names.append(name)
        trials.append((choice.group, choice.winner, losers))

    counts = dict.fromkeys(names, 0)
    for _, winner, losers in trials:
        for name in (winner, *losers):
            counts[name] += 1

    # An item nobody saw has no strength to estimate; fitting it anyway would only report the
    # regulariser's pull and tilt the centring of everyone else.
    fitted = [name for name in names if counts[name] > 0]
    if len(fitted) < 2:
        return {name: Estimate(None, None, None, counts[name]) for name in names}
    index = {name: i for i, name in enumerate(fitted)}

    by_group: dict[str, list[tuple[int, list[int]]]] = defaultdict(list)
    for group, winner, losers in trials:
        by_group[group].append((index[winner], [index[x] for x in losers]))
    everything = [trial for group_trials in by_group.values() for trial in group_trials]
    params = _fit_top1(len(fitted), everything, regularization)

    low = high = None
    # Sorted so the same data and seed give the same intervals whatever order it arrives in.
    groups = sorted(by_group)
    # Resampling a single participant only ever reproduces the fit: a zero-width interval that
    # would claim a certainty the data does not have.
    if len(groups) >= 2 and resamples > 0:
        rng = np.random.default_rng(seed)
        draws = np.empty((resamples, len(fitted)))
        for r in range(resamples):
            picked = rng.integers(0, len(groups), size=len(groups))
            sample = [trial for g in picked for trial in by_group[groups[g]]]
            # The fit runs over every fitted item even if this resample lacks some: the
            # regulariser keeps their strengths finite and the index stays aligned.
            draws[r] = _fit_top1(len(fitted), sample, regularization, initial=params)
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(draws, [tail, 100 - tail], axis=0)

    wins = dict.fromkeys(fitted, 0)
    for _, winner, _losers in trials:
        wins[winner] += 1

    def estimate(name: str) -> Estimate:
        if name not in index:
            return Estimate(None, None, None, 0)
        i, n = index[name], counts[name]
        value = float(params[i])
        if low is None:
            note = "one participant only: no interval" if resamples > 0 else ""
            return Estimate(value, None, None, n, note)
        if n < MIN_COMPARISONS_FOR_INTERVAL:
            note = (
                f"too few comparisons for an interval ({n}, needs {MIN_COMPARISONS_FOR_INTERVAL})"
            )
            return Estimate(value, None, None, n, note)
        if wins[name] in (0, n):
            # The likelihood keeps rising as the strength runs off to infinity; only the
            # regulariser stops it, so resamples bound nothing the data says.
            side = "never" if wins[name] == 0 else "always"
            note = f"{side} chosen: the data set no bound on its strength, so no interval"
            return Estimate(value, None, None, n, note)
        if high[i] - low[i] <= 1e-9 * max(1.0, abs(value)):
            note = "every resample gives the same strength: the data cannot support an interval"
            return Estimate(value, None, None, n, note)
        return Estimate(value, float(low[i]), float(high[i]), n)

    return {name: estimate(name) for name in names}
