"""Fixtures of the API tests: clients signed in with personal tokens, one per role."""

import pytest
from rest_framework.test import APIClient

from heritage import tokens
from tests import factories


@pytest.fixture
def staff(db):
    """The administrator `createsuperuser` makes: staff, superuser, no role (counts as curator)."""
    return factories.make_user("staff-user", is_staff=True, is_superuser=True)


def token_client(user) -> APIClient:
    """A client that sends `Authorization: Token KEY` with a fresh personal token of `user`."""
    _token, key = tokens.token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def curator_api(curator):
    return token_client(curator)


@pytest.fixture
def expert_api(expert):
    return token_client(expert)
