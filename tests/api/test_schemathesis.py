"""Property-based API test: every operation of /api/v1/schema/, for every role, never answers 5xx.

schemathesis generates requests from the OpenAPI schema the app serves (paths, query strings,
bodies, including malformed ones) and sends them through the WSGI application, as an anonymous
visitor, an expert with a token and a curator with a token, against a database holding a
published exhibition, an open study and an open review campaign. Bounded: a few examples per
operation and role (HERITAGE_SCHEMATHESIS_EXAMPLES, default 8).
"""

import itertools
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from gallery.models import ReviewItem
from gallery.services import exhibitions, reviews, studies
from heritage.wsgi import application
from tests import factories

EXAMPLES = int(os.environ.get("HERITAGE_SCHEMATHESIS_EXAMPLES", "8"))

_EXAMPLE_NUMBER = itertools.count()

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)


@pytest.fixture
def catalogue(curator, expert, media):
    """What the API can find: a published exhibition, an open study, an open campaign."""
    restorations = []
    motifs = []
    for seed in (1, 2):
        motif = factories.make_demo_motif(user=curator, seed=seed, width=64, height=64)
        annotation = factories.make_annotation(motif=motif, user=curator)
        motifs.append(motif)
        for engine in ("telea", "navier_stokes"):
            restorations.append(
                factories.make_restoration(annotation=annotation, user=curator, engine=engine)
            )
    exhibition = exhibitions.exhibition_create(created_by=curator, title="Painted caves")
    exhibitions.exhibition_entry_add(
        exhibition=exhibition, user=curator, motif=motifs[0], restoration=restorations[0]
    )
    exhibitions.exhibition_publish(exhibition=exhibition, user=curator)
    study = studies.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        description="",
        restorations=restorations,
        open_now=True,
    )
    campaign = reviews.campaign_create(
        created_by=curator,
        title="Huashan pilot",
        reference="damaged",
        restorations=restorations,
        experts=[expert],
        open_now=True,
    )
    # A visitor's CSRF cookie (study votes are posted from the browser with it).
    csrf = Client().get(f"/api/v1/studies/{study.slug}/", HTTP_HOST="localhost").cookies
    # Path parameters that name real objects, so requests reach past the 404.
    return csrf["csrftoken"].value, {
        "/api/v1/exhibitions/": {"slug": exhibition.slug},
        "/api/v1/studies/": {"slug": study.slug, "id": study.pk},
        "/api/v1/review/campaigns/": {"id": campaign.pk},
        "/api/v1/review/items/": {"token": ReviewItem.objects.filter(campaign=campaign)[0].token},
    }


@pytest.fixture
def one_connection():
    """Keep the test's database connection across requests, as Django's test client does.

    The WSGI handler closes connections when a request ends; with PostgreSQL's pool that hands
    the test transaction's connection back, and the next request could not open another one
    inside the test's atomic block.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["anonymous", "expert", "curator"])
def role_headers(request, curator, expert, catalogue, settings):
    # The anonymous read throttle would answer 429 after a few examples and hide the rest.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/m"},
    }
    settings.GALLERY_VOTE_RATE = "100000/m"
    settings.GALLERY_PARTICIPANT_RATE = "100000/h"
    csrf, known = catalogue
    headers = {"X-CSRFToken": csrf}
    if request.param != "anonymous":
        user = {"expert": expert, "curator": curator}[request.param]
        token, _ = Token.objects.get_or_create(user=user)
        headers["Authorization"] = f"Token {token.key}"
    return headers, {"csrftoken": csrf}, known


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(case, role_headers, one_connection):
    role, cookies, known = role_headers
    # Every other example names real objects; the others keep their generated identifiers.
    real = next((ids for prefix, ids in known.items() if case.path.startswith(prefix)), {})
    if case.path_parameters and next(_EXAMPLE_NUMBER) % 2 == 0:
        case.path_parameters = {
            name: real.get(name, value) for name, value in case.path_parameters.items()
        }
    headers = dict(case.headers or {})
    # The role decides who asks: drop generated credentials, then add the role's.
    headers.pop("Authorization", None)
    headers.update(role)
    case.headers = headers
    case.cookies = {}
    response = case.call(
        headers={"Host": "localhost", **headers},
        cookies=cookies,
        environ_base={"REMOTE_ADDR": "127.0.0.1"},  # as every real server sets it
    )
    case.validate_response(response, checks=[not_a_server_error])
