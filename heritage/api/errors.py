"""The one error format of every API app: DRF's, with the services' own messages.

A refusal is `{"detail": "<message>"}` (401, 403, 404, 405, 429 and a 400 that names no field)
or `{"<field>": ["<message>", ...]}` for the fields a request got wrong (400). A service's
django ValidationError or PermissionDenied becomes the 400 or 403 with its messages, whether
the handler wraps the call (api_call, service_errors) or lets it reach exception_handler.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from django.core import exceptions as django_exceptions
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from heritage.api.authentication import TOKEN_ERROR_ATTRIBUTE

P = ParamSpec("P")
R = TypeVar("R")


def drf_error(exc: django_exceptions.ValidationError | django_exceptions.PermissionDenied):
    """DRF's exception for a service's error, with the service's own messages.

    A ValidationError keyed by field keeps its keys ("__all__" becomes DRF's non-field key);
    any other becomes {"detail": "<messages>"}.
    """
    if isinstance(exc, django_exceptions.PermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(
            {
                api_settings.NON_FIELD_ERRORS_KEY
                if field == django_exceptions.NON_FIELD_ERRORS
                else field: messages
                for field, messages in exc.message_dict.items()
            }
        )
    return exceptions.ValidationError(
        {"detail": " ".join(exc.messages)}, code=getattr(exc, "code", None)
    )


@contextmanager
def service_errors() -> Iterator[None]:
    """Turn a service's ValidationError / PermissionDenied raised inside into DRF's 400 / 403."""
    try:
        yield
    except (django_exceptions.ValidationError, django_exceptions.PermissionDenied) as exc:
        raise drf_error(exc) from exc


def api_call(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """fn(*args, **kwargs), its ValidationError / PermissionDenied turned into DRF's 400 / 403."""
    with service_errors():
        return fn(*args, **kwargs)


def exception_handler(exc: Exception, context: dict):
    """DRF's handler, with a service's errors as drf_error makes them; a request refused for
    want of a user, that sent a bad token, gets 401 with the token's error (`Invalid token.`)
    rather than "credentials were not provided"."""
    if isinstance(exc, django_exceptions.ValidationError | django_exceptions.PermissionDenied):
        exc = drf_error(exc)
    request = context.get("request")
    token_error = getattr(request, TOKEN_ERROR_ATTRIBUTE, None)
    if token_error is not None and isinstance(exc, exceptions.NotAuthenticated):
        token_error.auth_header = 'Token realm="api"'
        exc = token_error
    return drf_exception_handler(exc, context)


def form_error(form) -> exceptions.ValidationError:
    """DRF's 400 for a Django form that did not validate, with the form's own messages by
    field (the form's non-field errors under DRF's non-field key): what the page would say."""
    return exceptions.ValidationError(
        {
            api_settings.NON_FIELD_ERRORS_KEY
            if field == django_exceptions.NON_FIELD_ERRORS
            else field: list(messages)
            for field, messages in form.errors.items()
        }
    )
