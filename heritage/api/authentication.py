"""Token authentication of every API app: personal tokens, and a bad token never closes the
public endpoints."""

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from heritage import tokens

TOKEN_ERROR_ATTRIBUTE = "heritage_token_error"


class PublicReadTokenAuthentication(TokenAuthentication):
    """`Authorization: Token KEY`; an unknown or malformed token reads as no credentials.

    KEY is a personal token made on the profile page (heritage.tokens: named, several per
    person, revocable, stored as a hash) or, for scripts set up before those, the single key of
    `python manage.py drf_create_token USER` (DRF's authtoken).

    A visitor's script with a stale token still reads published exhibitions and votes as
    anyone may; an endpoint that needs a signed-in user answers 401 with DRF's own message
    ("Invalid token.") instead of "credentials were not provided" (see errors.exception_handler).
    """

    def authenticate(self, request: Request):
        try:
            return super().authenticate(request)
        except AuthenticationFailed as exc:
            setattr(request, TOKEN_ERROR_ATTRIBUTE, exc)
            return None

    def authenticate_credentials(self, key: str):
        personal = tokens.token_authenticate(key=key)
        if personal is not None:
            return personal.user, personal
        return super().authenticate_credentials(key)
