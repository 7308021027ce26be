"""Who may read and write each API endpoint: every operation of the schema, for an anonymous
visitor, a signed-in visitor without a role, an expert, a curator and staff (a superuser without
a role, as `createsuperuser` makes), checked against the table below.

Each cell is five letters, one per role in ROLES order:
  Y  allowed: an answer other than 401/403/404/405 (a write with an empty body gets 400,
     "the request was wrong", which shows the permission let it through);
  N  refused: 401 or 403;
  H  hidden: 404 (the object is not this person's, e.g. another expert's review item);
  -  no such operation (405, or refused before the method is looked at: 401/403).

A new endpoint fails `test_the_table_covers_every_operation` until its row is written here.
"""

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from gallery.models import ReviewItem
from gallery.services import exhibitions, reviews, studies
from heritage import services as heritage_services
from heritage import team
from restoration import training_runs
from restoration.models import ModelCheckpoint
from tests import factories
from tests.api.conftest import token_client

ROLES = ("anonymous", "visitor", "expert", "curator", "staff")

# path: (read = GET, write = POST / PATCH / PUT)
MATRIX = {
    "/api/v1/": ("YYYYY", "-----"),
    "/api/v1/sites/": ("NNYYY", "NNNYY"),
    "/api/v1/sites/{id}/": ("NNYYY", "-----"),
    "/api/v1/motifs/": ("NNYYY", "NNNYY"),
    "/api/v1/motifs/{id}/": ("NNYYY", "NNNYY"),
    "/api/v1/motifs/{id}/files/{kind}/": ("NNYYY", "-----"),
    "/api/v1/motifs/{id}/annotations/": ("NNYYY", "NNNYY"),
    "/api/v1/motifs/{id}/annotations/simulate/": ("-----", "NNNYY"),
    "/api/v1/annotations/{id}/": ("NNYYY", "-----"),
    "/api/v1/annotations/{id}/mask/": ("NNYYY", "-----"),
    # Engines, jobs and results name the engines: curators only (experts score blind).
    "/api/v1/engines/": ("NNNYY", "-----"),
    "/api/v1/engines/{name}/": ("NNNYY", "-----"),
    "/api/v1/checkpoints/": ("NNNYY", "NNNYY"),
    "/api/v1/checkpoints/{id}/": ("NNNYY", "-----"),
    "/api/v1/jobs/": ("NNNYY", "NNNYY"),
    "/api/v1/style-jobs/": ("-----", "NNNYY"),
    "/api/v1/jobs/{id}/": ("NNNYY", "-----"),
    "/api/v1/jobs/{id}/cancel/": ("-----", "NNNYY"),
    "/api/v1/jobs/{id}/retry/": ("-----", "NNNYY"),
    "/api/v1/jobs/{id}/result/": ("NNNYY", "-----"),
    "/api/v1/jobs/{id}/result/{kind}/": ("NNNYY", "-----"),
    "/api/v1/training-runs/": ("NNNYY", "NNNYY"),
    "/api/v1/training-runs/{id}/": ("NNNYY", "-----"),
    "/api/v1/training-runs/{id}/cancel/": ("-----", "NNNYY"),
    "/api/v1/training-runs/{id}/resume/": ("-----", "NNNYY"),
    "/api/v1/training-runs/{id}/sample/": ("NNNYY", "-----"),
    # Public: published exhibitions and open studies (votes need the page's CSRF token).
    "/api/v1/exhibitions/": ("YYYYY", "-----"),
    "/api/v1/exhibitions/{slug}/": ("YYYYY", "-----"),
    "/api/v1/studies/{slug}/": ("YYYYY", "-----"),
    "/api/v1/studies/{slug}/next/": ("YYYYY", "-----"),
    "/api/v1/studies/{slug}/votes/": ("-----", "YYYYY"),
    "/api/v1/studies/{id}/results/": ("NNNYY", "-----"),
    # Blind review: the invited expert scores and skips; curators preview the queue but do not
    # score; results are the curators'.
    "/api/v1/review/campaigns/": ("NYYYY", "-----"),
    "/api/v1/review/campaigns/{id}/items/": ("NHYYY", "-----"),
    "/api/v1/review/campaigns/{id}/next/": ("NHYYY", "-----"),
    "/api/v1/review/campaigns/{id}/results/": ("NNNYY", "-----"),
    "/api/v1/review/items/{token}/response/": ("-----", "NHYNN"),
    "/api/v1/review/items/{token}/skip/": ("-----", "NHYNN"),
    # The team: managers only (staff is a superuser, who manages it; the curator does not).
    # Writes aim at staff's own account and a revoked invitation: refused with a 400.
    "/api/v1/team/members/": ("NNNNY", "-----"),
    "/api/v1/team/members/{id}/role/": ("-----", "NNNNY"),
    "/api/v1/team/members/{id}/deactivate/": ("-----", "NNNNY"),
    "/api/v1/team/members/{id}/reactivate/": ("-----", "NNNNY"),
    "/api/v1/team/invitations/": ("NNNNY", "NNNNY"),
    "/api/v1/team/invitations/{id}/revoke/": ("-----", "NNNNY"),
    "/api/v1/team/invitations/{id}/renew/": ("-----", "NNNNY"),
}


@pytest.fixture
def world(curator, expert, staff, media, settings):
    """One of everything the endpoints name: site, motif, annotation, finished job, engine,
    checkpoint, training run with a sample, published exhibition, open study, open review
    campaign with an item for the expert, a revoked invitation."""
    settings.TRAINING_MIN_MOTIFS = 1
    motif = factories.make_demo_motif(user=curator, width=96, height=64)
    annotation = heritage_services.annotation_simulate(
        motif=motif, author=curator, protocol="blocks", seed=1
    )
    restorations = [
        factories.make_restoration(annotation=annotation, user=curator, engine=engine)
        for engine in ("telea", "navier_stokes")
    ]
    exhibition = exhibitions.exhibition_create(created_by=curator, title="Caves")
    exhibitions.exhibition_entry_add(
        exhibition=exhibition, user=curator, motif=motif, restoration=restorations[0]
    )
    exhibitions.exhibition_publish(exhibition=exhibition, user=curator)
    study = studies.study_create(
        created_by=curator,
        title="Which reads best?",
        question="Which image best represents the original artwork?",
        description="",
        restorations=restorations,
        open_now=True,
    )
    campaign = reviews.campaign_create(
        created_by=curator,
        title="Pilot",
        reference="damaged",
        restorations=restorations,
        experts=[expert],
        open_now=True,
    )
    run = training_runs.training_run_create(
        requested_by=curator, engine="prior_diffusion", motifs=[motif], options={}, queue=False
    )
    run.latest_sample.save("sample.jpg", ContentFile(factories.jpeg_bytes()))
    checkpoint = ModelCheckpoint.objects.create(
        engine="prior_diffusion", name="hub", source="owner/prior", is_folder=True
    )
    invitation, _key = team.invitation_create(by=staff, username="invited", position="expert")
    team.invitation_revoke(invitation=invitation, by=staff)
    return {
        "{id}": {
            "training-runs": run.pk,
            "sites": motif.site_id,
            "motifs": motif.pk,
            "annotations": annotation.pk,
            "jobs": restorations[0].job_id,
            "studies": study.pk,
            "review": campaign.pk,
            "checkpoints": checkpoint.pk,
            "members": staff.pk,
            "invitations": invitation.pk,
        },
        "{kind}": {"files": "thumbnail", "result": "image"},
        "{name}": "telea",
        "{slug}": {"exhibitions": exhibition.slug, "studies": study.slug},
        "{token}": ReviewItem.objects.filter(campaign=campaign).first().token,
    }


def _url(template: str, world: dict) -> str:
    parts = template.strip("/").split("/")
    filled = []
    for index, part in enumerate(parts):
        value = world.get(part, part)
        if isinstance(value, dict):
            # Named by the collection the placeholder follows ("motifs/{id}", "files/{kind}").
            value = value[next(p for p in reversed(parts[:index]) if p in value)]
        filled.append(str(value))
    return "/" + "/".join(filled) + "/"


def _client(role: str, users: dict) -> APIClient:
    if role == "anonymous":
        return APIClient()
    if role == "visitor":
        client = APIClient()
        client.force_login(users["visitor"])
        return client
    return token_client(users[role])


def _write_method(template: str, schema_paths: dict) -> str:
    methods = [m for m in ("post", "patch", "put") if m in schema_paths.get(template, {})]
    return methods[0] if methods else "post"


def _outcome(status: int) -> str:
    if status in (401, 403):
        return "N"
    if status == 404:
        return "H"
    if status == 405:
        return "-"
    assert status < 500, status
    return "Y"


@pytest.fixture
def schema_paths(client, db):
    return client.get("/api/v1/schema/", {"format": "json"}).json()["paths"]


def test_the_table_covers_every_operation(schema_paths):
    assert set(MATRIX) == set(schema_paths)
    for template, operations in schema_paths.items():
        read, write = MATRIX[template]
        assert ("get" in operations) == (read != "-----"), template
        assert bool({"post", "patch", "put"} & set(operations)) == (write != "-----"), template


@pytest.mark.parametrize("role", ROLES)
def test_permissions_by_role(role, world, schema_paths, curator, expert, plain_user, staff):
    users = {"visitor": plain_user, "expert": expert, "curator": curator, "staff": staff}
    column = ROLES.index(role)
    client = _client(role, users)
    # The page's CSRF cookie and header, as the study page's script sends them with a vote.
    client.get(_url("/api/v1/studies/{slug}/", world))
    csrf = client.cookies["csrftoken"].value
    seen = {}
    for template, (read, write) in MATRIX.items():
        url = _url(template, world)
        got_read = _outcome(client.get(url).status_code)
        method = _write_method(template, schema_paths)
        # Bodies the permissions let through to a 400 (nothing changes), except where the
        # service itself decides who may write (a review answer: the invited expert only).
        body = {"mask": SimpleUploadedFile("x.txt", b"no")} if "annotations/" in url else {}
        if template.endswith("/response/"):
            body = {"scores": {}}
        answer = getattr(client, method)(
            url,
            body,
            format="multipart" if "annotations/" in url else "json",
            HTTP_X_CSRFTOKEN=csrf,
        )
        got_write = _outcome(answer.status_code)
        expected = (read[column], write[column])
        # "-": no such operation; a refusal before the method is looked at reads the same.
        got = tuple(
            "-" if want == "-" and outcome in "N-" else outcome
            for want, outcome in zip(expected, (got_read, got_write), strict=True)
        )
        seen[template] = (got, expected)
    wrong = {template: pair for template, pair in seen.items() if pair[0] != pair[1]}
    assert wrong == {}, f"{role}: (got, expected) by endpoint"
