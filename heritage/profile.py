"""The profile page: who you are, and your personal API tokens (made, shown once, revoked)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from heritage import tokens
from heritage.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Name of a new token",
        help_text="What it is for, e.g. the import script or the lab's workstation.",
    )


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """GET shows the page; POST makes a token and shows its key, this once (never stored)."""
    may_hold = tokens.user_may_hold_tokens(user=request.user)
    form = TokenForm(request.POST if request.method == "POST" else None)
    new_key = new_token = None
    status = 200
    if request.method == "POST":
        if not may_hold:
            raise PermissionDenied("Only curators and experts can make API tokens.")
        if form.is_valid():
            try:
                new_token, new_key = tokens.token_create(
                    user=request.user, name=form.cleaned_data["name"]
                )
            except ValidationError as exc:
                form.add_error(None, exc)
        if new_key is None:
            status = 400
        else:
            form = TokenForm()
    response = render(
        request,
        "heritage/profile.html",
        {
            "may_hold_tokens": may_hold,
            "tokens": tokens.token_list(user=request.user) if may_hold else [],
            "form": form,
            "new_key": new_key,
            "new_token": new_token,
        },
        status=status,
    )
    if new_key is not None:
        # The key is on this page only: no cache may keep it.
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    try:
        tokens.token_revoke(token=token, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f'The token "{token.name}" was revoked; it no longer signs in.')
    return redirect("profile")
