"""Every element id is unique on the pages curators use most (labels and scripts rely on it)."""

from collections import Counter
from html.parser import HTMLParser

from django.urls import reverse

from restoration import services
from restoration.models import RestorationJob
from tests import factories
from tests.restoration import fakes


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = Counter()
        self.label_targets = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids[attrs["id"]] += 1
        if tag == "label" and attrs.get("for"):
            self.label_targets.append(attrs["for"])


def _parse(client, url) -> _Ids:
    response = client.get(url)
    assert response.status_code == 200, url
    parser = _Ids()
    parser.feed(response.content.decode())
    return parser


def _assert_unique_ids(client, url):
    parser = _parse(client, url)
    duplicates = {name: count for name, count in parser.ids.items() if count > 1}
    assert not duplicates, f"{url} repeats ids: {duplicates}"
    missing = [target for target in parser.label_targets if target not in parser.ids]
    assert not missing, f"{url} has labels for no element: {missing}"


def test_the_main_pages_have_no_duplicate_ids(curator, curator_client, simulated, settings):
    fakes.with_style_engines(settings)
    motif = simulated.motif
    done = services.job_create(requested_by=curator, annotation=simulated, engine="telea")
    services.job_run(job_id=done.pk)
    pending = services.job_create(requested_by=curator, annotation=simulated, engine="exemplar")
    cancelled = services.job_create(requested_by=curator, annotation=simulated, engine="telea")
    services.job_cancel(job=cancelled, user=curator)
    photo = factories.make_motif(user=curator, width=64, height=48, kind="photograph", seed=2)
    urls = [
        reverse("heritage:motif_list"),
        motif.get_absolute_url(),  # restoration form and style form on one page
        photo.get_absolute_url(),
        reverse("restoration:compare", args=[motif.pk, simulated.pk]),
        *(job.get_absolute_url() for job in (done, pending, cancelled)),
    ]
    assert RestorationJob.objects.get(pk=done.pk).status == "succeeded"
    for url in urls:
        _assert_unique_ids(curator_client, url)


def test_the_motif_page_gives_each_forms_seed_its_own_id(curator_client, simulated, settings):
    fakes.with_style_engines(settings)
    parser = _parse(curator_client, simulated.motif.get_absolute_url())
    seeds = {name for name in parser.ids if name.endswith("seed")}
    # Restoration, style transfer and damage simulation: three seeds, three ids, all labelled.
    assert seeds == {"id_restore_seed", "id_style_seed", "id_seed"}
    assert seeds <= set(parser.label_targets)
