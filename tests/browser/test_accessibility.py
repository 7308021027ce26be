"""Accessibility pass: axe-core finds no serious or critical violation on each role's main pages.

axe-core comes from npm (package.json, installed into node_modules/ by `make test`) and is
injected from disk into each page, never fetched from a CDN. Besides axe's violations, what it
leaves undecided ("incomplete") fails the test too when serious, except colour contrast, which it
cannot measure over images, pseudo-elements or single characters: those spots (slider labels,
vote letters, keys, chart labels, the best-metric star) were measured by hand at 4.5:1 or more.
"""

import os
from functools import cached_property
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from gallery.services import exhibitions, reviews, studies
from heritage import team
from restoration import services as restoration_services
from restoration import training_runs
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}
# axe cannot always tell the colours behind text (over an image, a pseudo-element, one character).
UNDECIDABLE = {"color-contrast"}


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{AXE} is missing: CI must run `npm ci` (make test does when npm exists)")
        pytest.skip(f"the accessibility tests need axe-core at {AXE} (npm ci)")
    return AXE


class Scene:
    """The content the pages show, built on first use so each page builds only what it needs."""

    @cached_property
    def curator(self):
        return factories.make_user("curator-a11y", role="curator", manages_team=True)

    @cached_property
    def expert(self):
        return factories.make_user("expert-a11y", role="expert")

    @cached_property
    def motif(self):
        return factories.make_demo_motif(user=self.curator, width=160, height=120, title="Horses")

    @cached_property
    def annotation(self):
        return factories.make_annotation(
            motif=self.motif, user=self.curator, mask=factories.block_mask(self.motif, size=24)
        )

    @cached_property
    def restorations(self):
        return [
            factories.make_restoration(annotation=self.annotation, user=self.curator, engine=e)
            for e in ("telea", "navier_stokes")
        ]

    @cached_property
    def exhibition(self):
        exhibition = exhibitions.exhibition_create(
            created_by=self.curator, title="Horses of the cliff", summary="Rock art, restored."
        )
        exhibitions.exhibition_entry_add(
            exhibition=exhibition,
            user=self.curator,
            motif=self.motif,
            restoration=self.restorations[0],
        )
        second = factories.make_demo_motif(user=self.curator, seed=5, title="Deer")
        exhibitions.exhibition_entry_add(exhibition=exhibition, user=self.curator, motif=second)
        exhibitions.exhibition_publish(exhibition=exhibition, user=self.curator)
        return exhibition

    @cached_property
    def study(self):
        return studies.study_create(
            created_by=self.curator,
            title="Which restoration reads best?",
            question="Which image best represents the original artwork?",
            restorations=self.restorations,
            open_now=True,
        )

    @cached_property
    def first_work(self):
        return self.exhibition.entries.get(position=1)

    @cached_property
    def result_job(self):
        return self.restorations[0].job

    @cached_property
    def invitation_key(self):
        _, key = team.invitation_create(by=self.curator, username="mei.lin", position="expert")
        return key

    @cached_property
    def campaign(self):
        return reviews.campaign_create(
            created_by=self.curator,
            title="Pilot review",
            instructions="Score the restored area.",
            reference="damaged",
            restorations=self.restorations,
            experts=[self.expert],
            open_now=True,
        )

    @cached_property
    def pending_job(self):
        return restoration_services.job_create(
            requested_by=self.curator, annotation=self.annotation, engine="telea", queue=False
        )

    @cached_property
    def training_run(self):
        motifs = [self.motif] + [
            factories.make_demo_motif(user=self.curator, seed=seed, title=f"Cliff {seed}")
            for seed in (7, 8)
        ]
        run = training_runs.training_run_create(
            requested_by=self.curator,
            engine="prior_diffusion",
            motifs=motifs,
            options={},
            queue=False,
        )
        type(run).objects.filter(pk=run.pk).update(
            status="running", step=2, losses=[[1, 0.52], [2, 0.47]]
        )
        return run


def _submit_unchecked(selector: str):
    """Submit the form as it is, past the browser's own checks: the page then shows the errors."""

    def submit(page):
        page.eval_on_selector(selector, "form => { form.noValidate = true; }")
        with page.expect_navigation():
            page.click(f"{selector} [type=submit]")
        assert page.locator(".error, .errors").count() > 0

    return submit


def _refused_login(page):
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "not-the-password")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator(".errors").count() == 1


def _token_made(page):
    page.fill("#id_name", "catalogue sync")
    with page.expect_navigation():
        page.get_by_role("button", name="Make a token").click()
    assert page.input_value("#new-key")


def _expert_invited(page):
    page.fill("#id_username", "mei.lin")
    page.select_option("#id_position", "expert")
    with page.expect_navigation():
        page.get_by_role("button", name="Invite").click()
    assert page.input_value("#invitation-link")


def _candidate_chosen(page):
    page.locator("label[for=choice-A]").click()
    page.get_by_role("button", name="Confirm candidate A").wait_for()


def _waits_for(selector: str):
    """The page is checked once `selector` shows (what its script builds, or the page itself)."""
    return lambda page: page.wait_for_selector(selector)


def _url(name: str, *attributes: str):
    """reverse(name) with the primary keys (or slugs) of Scene attributes, e.g. "motif.pk"."""

    def path(scene):
        args = []
        for attribute in attributes:
            value = scene
            for part in attribute.split("."):
                value = getattr(value, part)
            args.append(value)
        return reverse(name, args=args)

    return path


def _absolute(attribute: str):
    return lambda scene: getattr(scene, attribute).get_absolute_url()


# (role, page, what the Scene must hold first, its path, what the person does before the check).
PAGES = [
    ("visitor", "home", ("exhibition", "study"), _url("home"), None),
    ("visitor", "exhibitions", ("exhibition",), _url("gallery:exhibition_list"), None),
    ("visitor", "exhibition", (), _absolute("exhibition"), None),
    ("visitor", "exhibition-work", (), _absolute("first_work"), _waits_for("[data-slider]")),
    ("visitor", "study", (), _absolute("study"), None),
    (
        "visitor",
        "study-vote",
        (),
        _url("gallery:study_vote", "study.slug"),
        _waits_for(".study-choice"),
    ),
    (
        "visitor",
        "study-vote-chosen",
        (),
        _url("gallery:study_vote", "study.slug"),
        _candidate_chosen,
    ),
    ("visitor", "login", (), _url("login"), None),
    ("visitor", "login-refused", (), _url("login"), _refused_login),
    ("visitor", "not-found", (), lambda scene: "/no-such-page/", None),
    ("visitor", "invitation", (), _url("team:invitation_accept", "invitation_key"), None),
    ("curator", "motif-list", ("motif",), _url("heritage:motif_list"), None),
    ("curator", "motif-detail", ("restorations",), _absolute("motif"), None),
    ("curator", "motif-edit", (), _url("heritage:motif_edit", "motif.pk"), None),
    ("curator", "upload", (), _url("heritage:motif_upload"), None),
    (
        "curator",
        "upload-refused",
        (),
        _url("heritage:motif_upload"),
        _submit_unchecked("#upload-form"),
    ),
    (
        "curator",
        "damage-editor",
        (),
        _url("heritage:annotation_edit", "motif.pk", "annotation.pk"),
        _waits_for("#editor-stage[data-ready=true]"),
    ),
    ("curator", "job-pending", (), _absolute("pending_job"), None),
    ("curator", "job-result", (), _absolute("result_job"), None),
    (
        "curator",
        "compare",
        ("restorations",),
        _url("restoration:compare", "motif.pk", "annotation.pk"),
        None,
    ),
    ("curator", "training", ("motif",), _url("restoration:training_list"), None),
    ("curator", "training-run", (), _absolute("training_run"), None),
    ("curator", "team", ("expert",), _url("team:home"), None),
    ("curator", "team-invited", ("expert",), _url("team:home"), _expert_invited),
    ("curator", "profile-tokens", (), _url("profile"), None),
    ("curator", "profile-token-made", (), _url("profile"), _token_made),
    ("curator", "exhibition-list", ("exhibition",), _url("gallery:exhibition_manage_list"), None),
    ("curator", "exhibition-new", (), _url("gallery:exhibition_create"), None),
    (
        "curator",
        "exhibition-curate",
        (),
        _url("gallery:exhibition_edit", "exhibition.pk"),
        None,
    ),
    ("curator", "reviews", ("campaign",), _url("gallery:campaign_list"), None),
    ("curator", "review-new", ("restorations", "expert"), _url("gallery:campaign_create"), None),
    ("curator", "review-results", (), _url("gallery:campaign_detail", "campaign.pk"), None),
    ("curator", "studies", ("study",), _url("gallery:study_manage_list"), None),
    ("curator", "study-new", ("restorations",), _url("gallery:study_create"), None),
    ("curator", "study-results", (), _url("gallery:study_results", "study.pk"), None),
    ("expert", "my-reviews", ("campaign",), _url("gallery:review_home"), None),
    (
        "expert",
        "review-scoring",
        (),
        _url("gallery:review_start", "campaign.pk"),
        _waits_for("#review-progress"),
    ),
]


def _sign_in(page, live_server, user) -> None:
    """Give the browser a session of `user` (the login form has a test of its own)."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def _describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} "
            f"[{violation['helpUrl']}]"
        )
        for node in violation["nodes"][:8]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['failureSummary']}")
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("role", "needs", "path_of", "then"),
    [
        pytest.param(role, needs, path_of, then, id=f"{role}-{name}")
        for role, name, needs, path_of, then in PAGES
    ],
)
def test_page_has_no_serious_accessibility_violation(
    role, needs, path_of, then, page, live_server, media, axe_script
):
    scene = Scene()
    for need in needs:
        getattr(scene, need)
    path = path_of(scene)
    if role != "visitor":
        _sign_in(page, live_server, getattr(scene, role))

    response = page.goto(f"{live_server.url}{path}")
    expected_status = 404 if path == "/no-such-page/" else 200
    assert response.status == expected_status, page.url
    if role != "visitor":
        assert "/accounts/login/" not in page.url
    page.wait_for_load_state("load")
    if then is not None:
        then(page)
    page.add_script_tag(path=str(axe_script))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations', 'incomplete']})")

    found = [v for v in results["violations"] if v["impact"] in SERIOUS]
    # What axe leaves undecided ("needs review") is a fault all the same where it can be decided
    # from the page alone: an aria-describedby naming no element, an aria-label its role forbids.
    # Only colour contrast stays open (text over an image or a pseudo-element, one character).
    found += [
        v for v in results["incomplete"] if v["impact"] in SERIOUS and v["id"] not in UNDECIDABLE
    ]
    assert not found, f"{page.url}:\n{_describe(found)}"
