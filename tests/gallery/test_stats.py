"""gallery.stats against hand-computed and published values."""

import math

import numpy as np
import pytest

from gallery.stats import (
    Choice,
    Estimate,
    bradley_terry,
    icc2k,
    krippendorff_alpha_ordinal,
    mean_ci,
    wilson_interval,
)

NAN = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the worked example:
# observers A-D (rows) x units 1-12 (columns), NaN where an observer left a unit out.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)

# Shrout & Fleiss (1979), Table 2: 6 targets (rows) x 4 judges (columns).
SHROUT_FLEISS_1979 = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
    dtype=float,
)


# mean_ci


def test_mean_ci_matches_hand_computed_t_interval():
    # Mean 40 / 8 = 5; squared deviations 9+1+1+1+0+0+4+16 = 32, s = sqrt(32 / 7) = 2.13809,
    # standard error 2.13809 / sqrt(8) = 0.755929; t(0.975, df=7) = 2.364624,
    # half width 2.364624 * 0.755929 = 1.78749 -> (3.21251, 6.78749).
    estimate = mean_ci([2, 4, 4, 4, 5, 5, 7, 9])
    assert estimate.value == pytest.approx(5.0)
    assert estimate.low == pytest.approx(3.21251, abs=1e-3)
    assert estimate.high == pytest.approx(6.78749, abs=1e-3)
    assert estimate.n == 8


def test_mean_ci_widens_with_confidence():
    # t(0.995, df=7) = 3.499483, half width 3.499483 * 0.755929 = 2.64536.
    estimate = mean_ci([2, 4, 4, 4, 5, 5, 7, 9], confidence=0.99)
    assert estimate.high - estimate.value == pytest.approx(2.64536, abs=1e-3)


def test_mean_ci_single_value_has_no_interval():
    assert mean_ci([3.5]) == Estimate(3.5, None, None, 1, "too few scores")


def test_mean_ci_no_values_has_no_mean():
    assert mean_ci([]) == Estimate(None, None, None, 0)


def test_mean_ci_equal_values_give_no_zero_width_interval():
    # Exactly 0.1 (no ulp lost to averaging), and no interval claiming certainty.
    estimate = mean_ci([0.1, 0.1, 0.1])
    assert estimate == Estimate(
        0.1, None, None, 3, "all scores equal: no spread to build an interval from"
    )


def test_mean_ci_rejects_bad_confidence_and_nan():
    with pytest.raises(ValueError):
        mean_ci([1, 2], confidence=1.0)
    with pytest.raises(ValueError):
        mean_ci([1, NAN])


# krippendorff_alpha_ordinal


def test_krippendorff_alpha_ordinal_matches_published_example():
    # Krippendorff (2011) reports alpha = 0.815 for ordinal (0.743 nominal, 0.849 interval).
    alpha = krippendorff_alpha_ordinal(KRIPPENDORFF_2011)
    assert round(alpha, 3) == 0.815
    assert type(alpha) is float


def test_krippendorff_alpha_ordinal_unused_categories_leave_alpha_unchanged():
    # The ordinal distance sums the counts n_g of the categories between two values, so a
    # category nobody used (n_g = 0) adds nothing: a wider 1-7 scale gives the same 0.815.
    narrow = krippendorff_alpha_ordinal(KRIPPENDORFF_2011, value_domain=[1, 2, 3, 4, 5])
    wide = krippendorff_alpha_ordinal(KRIPPENDORFF_2011, value_domain=[1, 2, 3, 4, 5, 6, 7])
    assert round(narrow, 3) == round(wide, 3) == 0.815


def test_krippendorff_alpha_ordinal_rejects_value_outside_domain():
    with pytest.raises(ValueError):
        krippendorff_alpha_ordinal(KRIPPENDORFF_2011, value_domain=[1, 2, 3, 4])


def test_krippendorff_alpha_ordinal_perfect_agreement_is_one():
    assert krippendorff_alpha_ordinal(np.array([[1, 2, 3, 4], [1, 2, 3, 4]])) == 1.0


def test_krippendorff_alpha_ordinal_none_without_variation():
    ratings = np.array([[3, 3, 3, NAN], [3, 3, 3, 5], [NAN, 3, 3, NAN]])
    # The 5 is the only rating of its unit, so it is not pairable: no variation left.
    assert krippendorff_alpha_ordinal(ratings) is None


def test_krippendorff_alpha_ordinal_none_for_single_pairable_unit():
    assert krippendorff_alpha_ordinal(np.array([[1.0], [2.0], [3.0]])) is None
    # Two units, but only one rated twice.
    assert krippendorff_alpha_ordinal(np.array([[1, 4], [2, NAN]])) is None


def test_krippendorff_alpha_ordinal_none_for_all_missing():
    assert krippendorff_alpha_ordinal(np.full((3, 4), NAN)) is None


# icc2k


def test_icc2k_matches_shrout_fleiss_table():
    # Shrout & Fleiss (1979) Table 3: BMS = 11.24, JMS = 32.49, EMS = 1.02, n = 6, so
    # ICC(2,4) = (11.24 - 1.02) / (11.24 + (32.49 - 1.02) / 6) = 10.22 / 16.485 = 0.62.
    assert icc2k(SHROUT_FLEISS_1979) == pytest.approx(0.62, abs=0.005)


def test_icc2k_perfect_agreement_is_one():
    ratings = np.array([[1, 1, 1], [3, 3, 3], [5, 5, 5]])
    assert icc2k(ratings) == pytest.approx(1.0)


def test_icc2k_rejects_missing_ratings():
    ratings = SHROUT_FLEISS_1979.copy()
    ratings[2, 1] = NAN
    with pytest.raises(ValueError, match="every rater to rate every item"):
        icc2k(ratings)


def test_icc2k_none_for_one_rater_or_one_unit():
    assert icc2k(SHROUT_FLEISS_1979[:, :1]) is None
    assert icc2k(SHROUT_FLEISS_1979[:1, :]) is None


def test_icc2k_none_when_everything_is_equal():
    assert icc2k(np.full((4, 3), 0.1)) is None


# wilson_interval


def test_wilson_interval_matches_hand_computed_bounds():
    # z = 1.959964, z^2 = 3.841459, p = 0.8, n = 10:
    # centre = (p + z^2/2n) / (1 + z^2/n) = 0.992073 / 1.384146 = 0.716739,
    # half = z * sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n) = 1.959964 * 0.160011 / 1.384146
    #      = 0.226578 -> (0.490161, 0.943317).
    estimate = wilson_interval(8, 10)
    assert estimate.value == pytest.approx(0.8)
    assert estimate.low == pytest.approx(0.4902, abs=1e-3)
    assert estimate.high == pytest.approx(0.9433, abs=1e-3)
    assert estimate.n == 10


def test_wilson_interval_zero_successes_starts_at_zero():
    # high = (z^2/n) / (1 + z^2/n) = 0.384146 / 1.384146 = 0.277533.
    estimate = wilson_interval(0, 10)
    assert estimate.value == 0.0
    assert estimate.low == pytest.approx(0.0, abs=1e-12)
    assert estimate.high == pytest.approx(0.2775, abs=1e-3)


def test_wilson_interval_no_trials_has_no_share():
    assert wilson_interval(0, 0) == Estimate(None, None, None, 0)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        wilson_interval(-1, 10)


# bradley_terry


def _three_to_one() -> list[Choice]:
    # Four participants, one trial each: A wins three, B one.
    return [Choice(group, "A", ("B",)) for group in ("p1", "p2", "p3")] + [
        Choice("p4", "B", ("A",))
    ]


def test_bradley_terry_two_items_recovers_odds():
    # The maximum-likelihood odds of A over B are 3:1, so the log-strengths differ by ln 3
    # and, centred, sit at +-ln(3)/2.
    strengths = bradley_terry(_three_to_one(), regularization=1e-4)
    assert strengths["A"].value - strengths["B"].value == pytest.approx(math.log(3), abs=0.05)
    assert strengths["A"].value + strengths["B"].value == pytest.approx(0.0, abs=1e-9)
    assert strengths["A"].n == strengths["B"].n == 4


def test_bradley_terry_orders_consistent_winners():
    choices = []
    for participant in range(5):
        group = f"p{participant}"
        choices += [Choice(group, "A", ("B", "C")), Choice(group, "B", ("C",))]
    strengths = bradley_terry(choices)
    assert strengths["A"].value > strengths["B"].value > strengths["C"].value
    assert all(math.isfinite(estimate.value) for estimate in strengths.values())


def test_bradley_terry_item_without_wins_is_listed_and_lowest():
    choices = _three_to_one() + [Choice("p1", "A", ("never",)), Choice("p2", "B", ("never",))]
    strengths = bradley_terry(choices, items=["A", "B", "never"])
    assert list(strengths) == ["A", "B", "never"]
    assert strengths["never"].value < min(strengths["A"].value, strengths["B"].value)
    assert strengths["never"].n == 2


def test_bradley_terry_item_never_shown_has_no_estimate():
    strengths = bradley_terry(_three_to_one(), items=["A", "B", "unseen"])
    assert strengths["unseen"] == Estimate(None, None, None, 0)
    assert strengths["A"].value > strengths["B"].value


def test_bradley_terry_bootstrap_reproducible_and_brackets_value():
    choices = [
        Choice(f"p{i}", winner, tuple(x for x in "ABC" if x != winner))
        for i, winner in enumerate("AABACABBAC")
    ]
    first = bradley_terry(choices, seed=7, resamples=100)
    assert first == bradley_terry(choices, seed=7, resamples=100)
    assert first != bradley_terry(choices, seed=8, resamples=100)
    for estimate in first.values():
        assert estimate.low <= estimate.value <= estimate.high
        assert estimate.low < estimate.high


def test_bradley_terry_result_ignores_order_of_choices():
    choices = [
        Choice(f"p{i % 4}", winner, tuple(x for x in "ABC" if x != winner))
        for i, winner in enumerate("AABACABBAC")
    ]
    forward, backward = bradley_terry(choices), bradley_terry(choices[::-1])
    assert forward.keys() == backward.keys()
    # Summing in another order may move the last bits, nothing more.
    for item, estimate in forward.items():
        other = backward[item]
        assert (estimate.low, estimate.value, estimate.high) == pytest.approx(
            (other.low, other.value, other.high), abs=1e-6
        )


def test_bradley_terry_drops_duplicates_from_losers():
    duplicated = [
        Choice("p1", "A", ("A", "B", "B")),
        Choice("p2", "A", ("B",)),
        Choice("p3", "A", ("B", "A")),
        Choice("p4", "B", ("A", "A")),
    ]
    assert bradley_terry(duplicated) == bradley_terry(_three_to_one())


def test_bradley_terry_single_participant_has_no_interval():
    choices = [Choice("p1", "A", ("B",)), Choice("p1", "B", ("A",)), Choice("p1", "A", ("B",))]
    strengths = bradley_terry(choices)
    assert strengths["A"].value > strengths["B"].value
    assert strengths["A"].low is None and strengths["A"].high is None


def test_bradley_terry_no_choices_gives_no_values():
    assert bradley_terry([], items=["A", "B"]) == {
        "A": Estimate(None, None, None, 0),
        "B": Estimate(None, None, None, 0),
    }
    assert bradley_terry([]) == {}


def test_bradley_terry_one_item_gives_no_value():
    strengths = bradley_terry([Choice("p1", "A", ("A",))], items=["A"])
    assert strengths == {"A": Estimate(None, None, None, 0)}


def test_bradley_terry_rejects_unknown_item():
    with pytest.raises(ValueError):
        bradley_terry(_three_to_one(), items=["A"])


def test_bradley_terry_survives_resamples_missing_items():
    # With two participants who saw disjoint pairs, about half the resamples hold only one
    # pair; the fit must still cover all four items.
    choices = [Choice("p1", w, tuple({"A", "B"} - {w})) for w in "AAAABB"]
    choices += [Choice("p2", w, tuple({"C", "D"} - {w})) for w in "CCCCDD"]
    strengths = bradley_terry(choices, resamples=50)
    assert all(
        math.isfinite(estimate.low) and math.isfinite(estimate.high)
        for estimate in strengths.values()
    )


def test_mean_ci_with_two_scores_says_too_few_scores():
    # The "4.50 [-1.85, 10.85] n=2" on a 1-5 scale.
    assert mean_ci([4, 5], bounds=(1, 5)) == Estimate(4.5, None, None, 2, "too few scores")


def test_mean_ci_clips_to_the_scale_and_says_so():
    estimate = mean_ci([1, 5, 5, 3], bounds=(1, 5))
    # Unclipped: 3.5 +- 3.182 * 1.915 / 2 = [0.45, 6.55].
    assert (estimate.value, estimate.low, estimate.high) == (3.5, 1.0, 5.0)
    assert estimate.note == "clipped to the 1-5 scale"
    inside = mean_ci([2, 4, 4, 4, 5, 5, 7, 9], bounds=(0, 10))
    assert inside == mean_ci([2, 4, 4, 4, 5, 5, 7, 9]) and inside.note == ""


def test_mean_ci_rejects_values_off_the_scale_and_bad_bounds():
    with pytest.raises(ValueError):
        mean_ci([0, 3, 4], bounds=(1, 5))
    with pytest.raises(ValueError):
        mean_ci([3, 4, 4], bounds=(5, 1))
    with pytest.raises(ValueError):
        mean_ci([3, 4, 4], min_n=1)


def test_bradley_terry_zero_width_interval_becomes_a_note():
    # The "-1.40 to -1.40": two participants, each picks A over B and C, and every
    # resample is the same data.
    strengths = bradley_terry([Choice(p, "A", ("B", "C")) for p in ("p1", "p2")])
    assert strengths["B"].value == pytest.approx(-1.40, abs=0.01)
    for estimate in strengths.values():
        assert estimate.low is None and estimate.high is None
        assert estimate.note == "too few comparisons for an interval (2, needs 5)"


def test_bradley_terry_notes_items_never_or_always_chosen_and_lone_participants():
    choices = [
        Choice(f"p{i}", w, tuple(x for x in "ABC" if x != w)) for i, w in enumerate("AB" * 4)
    ]
    strengths = bradley_terry(choices)
    assert strengths["C"].note.startswith("never chosen") and strengths["C"].low is None
    assert strengths["A"].low < strengths["A"].value < strengths["A"].high
    assert strengths["A"].note == ""
    alone = bradley_terry([Choice("p1", w, tuple({"A", "B"} - {w})) for w in "AAAB" * 2])
    assert alone["A"].low is None and alone["A"].note == "one participant only: no interval"


def test_bradley_terry_identical_resamples_give_no_interval():
    # Enough comparisons, two participants with the same mixed answers: every resample is a
    # copy of the same pattern, so the interval would have zero width.
    same = [Choice(p, w, tuple({"A", "B"} - {w})) for p in ("p1", "p2") for w in "AAB"]
    strengths = bradley_terry(same)
    assert strengths["A"].low is None
    assert strengths["A"].note.startswith("every resample gives the same strength")
