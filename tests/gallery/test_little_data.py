"""Results with little data, as the issue found them: each number honest about what backs it.

The four cases: a mean of two scores with a t interval off the 1-5 scale, a Bradley-Terry
interval of zero width, votes over time as a lone dot, and two vote counts side by side with
nothing saying how they differ.
"""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from gallery.models import Participant
from gallery.selectors import studies as selectors
from gallery.services import studies as study_services
from gallery.services.reviews import campaign_create, review_submit

pytestmark = pytest.mark.django_db


def _study(curator, restorations, **options):
    return study_services.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        restorations=restorations,
        open_now=True,
        **options,
    )


def _vote(trial, who, token, *, repeat=False):
    served = study_services.trial_serve(study=trial.study, participant=who, position=trial.position)
    assert served is not None and served.trial == trial and served.repeat is repeat
    study_services.vote_cast(
        trial=trial, participant=who, choice=token, shown=served.shown, repeat=repeat
    )


def _token(trial, engine):
    return trial.candidates.get(restoration__engine=engine).token


def _results_page(client, study) -> str:
    page = client.get(reverse("gallery:study_results", args=[study.pk]))
    assert page.status_code == 200
    return page.content.decode()


def test_a_mean_of_two_scores_says_too_few_scores_not_an_interval_off_the_scale(
    curator_client, curator, expert, second_expert, restorations
):
    telea, navier = restorations[:2]
    campaign = campaign_create(
        created_by=curator,
        title="Pilot",
        instructions="",
        restorations=[telea, navier],
        experts=[expert, second_expert],
        criteria=["structure"],
        open_now=True,
        reference="damaged",
    )
    for who, score in ((expert, 4), (second_expert, 5)):
        review_submit(
            item=campaign.items.get(restoration=telea), expert=who, scores={"structure": score}
        )

    html = curator_client.get(
        reverse("gallery:campaign_detail", args=[campaign.pk])
    ).content.decode()

    # Was "4.50 [-1.85, 10.85] n=2": a t interval with one degree of freedom.
    assert "-1.85" not in html and "10.85" not in html
    assert re.search(
        r"4\.50 <span class=\"ci-note\">\(too few scores\)</span> <span class=\"n\">n=2", html
    )
    assert "4.50 (too few scores)" in html  # the chart says it beside the bar too
    api = APIClient()
    api.force_authenticate(curator)
    answer = api.get(reverse("gallery_api:review_results", args=[campaign.pk])).json()
    assert answer["means"]["telea"]["structure"] == {
        "mean": 4.5, "low": None, "high": None, "n": 2, "note": "too few scores"
    }  # fmt: skip


def test_a_bradley_terry_interval_of_zero_width_is_replaced_by_why_there_is_none(
    curator_client, curator, restorations
):
    study = _study(curator, restorations)
    trial = study.trials.order_by("position").first()
    for _ in range(2):
        _vote(trial, Participant.objects.create(), _token(trial, "telea"))

    html = _results_page(curator_client, study)
    api = APIClient()
    api.force_authenticate(curator)
    answer = api.get(reverse("gallery_api:study_results", args=[study.pk])).json()

    # Was "-2.31 to -2.31": every bootstrap resample of two identical votes is the same data.
    assert not re.search(r"(-?\d+\.\d\d) to \1<", html)
    assert html.count("none: too few comparisons for an interval (2, needs 5)") == 2
    for row in answer["engines"]:
        assert row["scale"]["low"] is None and row["scale"]["high"] is None
        assert row["scale"]["note"] == "too few comparisons for an interval (2, needs 5)"
    assert "(no interval)" in html  # beside the bars of the scale chart


def test_votes_in_a_single_hour_show_one_labelled_bar_not_a_lone_dot(
    curator_client, curator, restorations
):
    study = _study(curator, restorations)
    trial = study.trials.order_by("position").first()
    for _ in range(3):
        _vote(trial, Participant.objects.create(), _token(trial, "telea"))
    (hour, count), = selectors.study_vote_timeline(study=study, hourly=True)  # fmt: skip

    html = _results_page(curator_client, study)

    timeline = html[html.index("Votes over time") :]
    timeline = timeline[: timeline.index("</svg>")]
    assert "<circle" not in timeline and "<rect" in timeline
    assert count == 3 and hour.strftime("%Y-%m-%d %H:%M") in timeline
    assert ">3 votes</text>" in timeline
    assert "3 votes in all, all counted, all in this hour" in timeline


def test_votes_counted_and_votes_in_all_say_how_they_differ(curator_client, curator, restorations):
    study = _study(curator, restorations, attention_check=True)
    trials = {t.position: t for t in study.trials.all()}
    # One participant passes the attention check; two answer the repeated image set otherwise
    # and are left out of shares and scale: 6 first votes, 2 counted, 4 not.
    for passes in (True, False, False):
        who = Participant.objects.create()
        first_choice = {}
        while (following := selectors.study_next(study=study, participant=who)) is not None:
            trial, repeat = following
            if repeat:
                other = "navier_stokes" if first_choice[trial.pk] == "telea" else "telea"
                _vote(
                    trial,
                    who,
                    _token(trial, first_choice[trial.pk] if passes else other),
                    repeat=True,
                )
            else:
                first_choice[trial.pk] = "telea"
                _vote(trial, who, _token(trial, "telea"))
    assert len(trials) == 2

    html = _results_page(curator_client, study)
    api = APIClient()
    api.force_authenticate(curator)
    answer = api.get(reverse("gallery_api:study_results", args=[study.pk])).json()

    assert "2 votes counted from 1 participant" in html
    assert (
        "6 first votes in all (as the chart over time and the image sets count them): 2 counted, "
        "and 4 from participants who failed the attention check, not counted." in html
    )
    assert (
        "6 votes in all, 2 counted; 4 from participants who failed the attention check are not"
        in html
    )
    assert "First votes (every participant)" in html
    assert answer["counted"] == 2 and answer["first_votes"] == 6
    assert answer["attention"]["excluded_votes"] == 4
    assert sum(day["votes"] for day in answer["timeline"]) == 6
