"""Curators pick results by their job's number, with thumbnails, limited to the chosen motif."""

from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from gallery.models import ExhibitionEntry, ReviewCampaign, StudyCandidate, UserStudy
from gallery.services import exhibitions as services
from restoration import services as restoration_services
from tests import factories


@dataclass
class Choice:
    value: str
    label: str
    thumbnail: str
    motif: str
    hidden: bool
    checked: bool


class _Choices(HTMLParser):
    """The result choices of a page: every <label class="result-choice"> and what it holds."""

    def __init__(self):
        super().__init__()
        self.choices: list[Choice] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label" and "result-choice" in (attrs.get("class") or "").split():
            self._open = {
                "motif": attrs.get("data-motif", ""),
                "hidden": "hidden" in attrs,
                "text": "",
                "thumbnail": "",
            }
        elif self._open is not None and tag == "input":
            self._open["value"] = attrs.get("value", "")
            self._open["checked"] = "checked" in attrs
        elif self._open is not None and tag == "img":
            self._open["thumbnail"] = attrs.get("src", "")

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "label" and self._open is not None:
            found = self._open
            self.choices.append(
                Choice(
                    value=found["value"],
                    label=" ".join(found["text"].split()),
                    thumbnail=found["thumbnail"],
                    motif=found["motif"],
                    hidden=found["hidden"],
                    checked=found["checked"],
                )
            )
            self._open = None


def choices_in(html: str) -> list[Choice]:
    parser = _Choices()
    parser.feed(html)
    return parser.choices


@pytest.fixture
def drifted(motifs, curator):
    """Results whose own ids no longer match their jobs' numbers: motif 1 restored by telea,
    a cancelled job, then motif 1 restored by navier_stokes and motif 2 by telea."""
    (first, first_damage), (second, second_damage) = motifs
    telea = factories.make_restoration(annotation=first_damage, user=curator)
    cancelled = restoration_services.job_create(
        requested_by=curator, annotation=first_damage, engine="telea", queue=False
    )
    restoration_services.job_cancel(job=cancelled, user=curator)
    navier = factories.make_restoration(
        annotation=first_damage, user=curator, engine="navier_stokes"
    )
    other = factories.make_restoration(annotation=second_damage, user=curator)
    # The drift the pickers used to trip on: results are numbered past the cancelled job.
    assert cancelled.status == cancelled.Status.CANCELLED
    assert navier.pk != navier.job_id and other.pk != other.job_id
    return {"telea": telea, "navier": navier, "other": other, "cancelled": cancelled}


@pytest.fixture
def exhibition(curator):
    return services.exhibition_create(created_by=curator, title="Cave walls")


def _edit(client, exhibition, query: str = "") -> str:
    response = client.get(reverse("gallery:exhibition_edit", args=[exhibition.pk]) + query)
    assert response.status_code == 200
    return response.content.decode()


def test_after_a_cancelled_job_the_label_and_the_choice_name_the_same_job(
    curator_client, exhibition, drifted, motifs
):
    navier = drifted["navier"]
    choices = {choice.value: choice for choice in choices_in(_edit(curator_client, exhibition))}
    # The choice labelled with the job page's name is the one whose value is that job.
    shown = choices[str(navier.job_id)]
    assert shown.label == f"Restoration #{navier.job_id} · navier_stokes · Demo motif 1"
    assert f"#{navier.pk} " not in shown.label
    # Nothing is offered under the cancelled job's number, and no label names a result id.
    assert str(drifted["cancelled"].pk) not in choices

    add_url = reverse("gallery:exhibition_entry_add", args=[exhibition.pk])
    curator_client.post(add_url, {"motif": motifs[0][0].pk, "restoration": navier.job_id})
    entry = ExhibitionEntry.objects.get(exhibition=exhibition)
    assert entry.restoration == navier

    # The entry's own picker has that same choice ticked.
    entry_choices = [
        choice for choice in choices_in(_edit(curator_client, exhibition)) if choice.checked
    ]
    assert [(c.value, c.label) for c in entry_choices if c.value] == [
        (str(navier.job_id), f"Restoration #{navier.job_id} · navier_stokes · Demo motif 1")
    ]


def test_the_cancelled_jobs_number_is_refused_by_name_and_adds_nothing(
    curator_client, exhibition, drifted, motifs
):
    cancelled = drifted["cancelled"]
    add_url = reverse("gallery:exhibition_entry_add", args=[exhibition.pk])
    answer = curator_client.post(
        add_url, {"motif": motifs[0][0].pk, "restoration": cancelled.pk}, follow=True
    )
    page = answer.content.decode()
    assert f"There is no finished job #{cancelled.pk} to choose" in page
    assert not exhibition.entries.exists()
    # An id no database holds is refused the same way, never sent to the database.
    answer = curator_client.post(
        add_url, {"motif": motifs[0][0].pk, "restoration": "99999999999999999999"}, follow=True
    )
    assert "There is no finished job #99999999999999999999" in answer.content.decode()
    assert not exhibition.entries.exists()


def test_a_result_of_another_motif_is_refused_with_both_titles(
    curator_client, curator, exhibition, drifted, motifs
):
    (first, _), (second, _) = motifs
    other = drifted["other"]
    add_url = reverse("gallery:exhibition_entry_add", args=[exhibition.pk])
    answer = curator_client.post(
        add_url, {"motif": first.pk, "restoration": other.job_id}, follow=True
    )
    assert (
        f"Restoration #{other.job_id} is a result of “Demo motif 2”, not of “Demo motif 1”"
        in answer.content.decode()
    )
    assert not exhibition.entries.exists()
    # The curator keeps the motif they chose: the page lists its results again.
    assert answer.redirect_chain[-1][0].endswith(f"?motif={first.pk}#add-work")

    entry = services.exhibition_entry_add(exhibition=exhibition, user=curator, motif=first)
    update_url = reverse("gallery:exhibition_entry_update", args=[exhibition.pk, entry.pk])
    answer = curator_client.post(update_url, {"restoration": other.job_id}, follow=True)
    assert "is a result of “Demo motif 2”, not of “Demo motif 1”" in answer.content.decode()
    entry.refresh_from_db()
    assert entry.restoration is None


def test_every_result_choice_shows_its_thumbnail_to_curators_only(
    curator_client, client, expert, exhibition, drifted
):
    choices = [c for c in choices_in(_edit(curator_client, exhibition)) if c.value]
    assert len(choices) == 3
    for choice in choices:
        assert choice.thumbnail.startswith("/files/restorations/")
        image = curator_client.get(choice.thumbnail)
        assert image.status_code == 200 and image["Content-Type"].startswith("image/")
    # The same permission rules as the rest of the curators' files: experts and visitors
    # get nothing.
    client.force_login(expert)
    assert client.get(choices[0].thumbnail).status_code == 404
    client.logout()
    assert client.get(choices[0].thumbnail).status_code == 404


def test_choosing_a_motif_lists_only_its_results_without_script(
    curator_client, exhibition, drifted, motifs
):
    (first, _), (second, _) = motifs
    # Before a motif is chosen, no result is listed; "as photographed" always is.
    before = choices_in(_edit(curator_client, exhibition))
    assert [c.value for c in before if not c.hidden] == [""]
    page = _edit(curator_client, exhibition)
    assert "Choose a motif to see its results." in page

    # The no-script button posts the motif and comes back to the page filtered by it.
    add_url = reverse("gallery:exhibition_entry_add", args=[exhibition.pk])
    shown = curator_client.post(add_url, {"motif": second.pk, "show_results": "1"})
    assert shown.status_code == 302
    assert shown["Location"].endswith(f"?motif={second.pk}#add-work")
    assert not exhibition.entries.exists()

    page = _edit(curator_client, exhibition, f"?motif={second.pk}")
    listed = [c for c in choices_in(page) if not c.hidden and c.value]
    assert [c.label for c in listed] == [
        f"Restoration #{drifted['other'].job_id} · telea · Demo motif 2"
    ]
    assert "1 result of this motif." in page
    assert f'<option value="{second.pk}" selected>' in page

    page = _edit(curator_client, exhibition, f"?motif={first.pk}")
    listed = {c.value for c in choices_in(page) if not c.hidden and c.value}
    assert listed == {str(drifted["telea"].job_id), str(drifted["navier"].job_id)}


def test_an_unknown_motif_in_the_filter_says_so(curator_client, exhibition, drifted):
    response = curator_client.get(
        reverse("gallery:exhibition_edit", args=[exhibition.pk]) + "?motif=987654"
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is no motif #987654 to show the results of" in page
    assert [c.value for c in choices_in(page) if not c.hidden] == [""]


def test_review_and_study_set_up_take_results_by_job_number(curator_client, expert, drifted):
    navier, other = drifted["navier"], drifted["other"]
    page = curator_client.get(reverse("gallery:campaign_create")).content.decode()
    assert f'value="{navier.job_id}"' in page and f"Restoration #{navier.job_id}" in page
    response = curator_client.post(
        reverse("gallery:campaign_create"),
        {
            "title": "Two engines",
            "restorations": [navier.job_id, drifted["telea"].job_id],
            "experts": [expert.pk],
            "criteria": ["overall"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = ReviewCampaign.objects.get(title="Two engines")
    chosen = {item.restoration for item in campaign.items.all()}
    assert chosen == {navier, drifted["telea"]}

    refused = curator_client.post(
        reverse("gallery:campaign_create"),
        {"title": "Cancelled", "restorations": [drifted["cancelled"].pk], "experts": []},
    )
    assert refused.status_code == 400
    assert f"There is no finished job #{drifted['cancelled'].pk}" in refused.content.decode()

    page = curator_client.get(reverse("gallery:study_create")).content.decode()
    assert f'value="{navier.job_id}"' in page and f"Restoration #{navier.job_id}" in page
    response = curator_client.post(
        reverse("gallery:study_create"),
        {
            "title": "Which engine",
            "question": "Which?",
            "restorations": [navier.job_id, drifted["telea"].job_id],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    study = UserStudy.objects.get(title="Which engine")
    candidates = StudyCandidate.objects.filter(trial__study=study)
    assert {c.restoration for c in candidates} == {navier, drifted["telea"]}
    assert other.job_id != navier.pk  # the drift is real in this test
