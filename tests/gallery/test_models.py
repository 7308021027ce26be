"""Gallery model helpers."""

import secrets

from gallery.models import opaque_token


def test_opaque_token_never_starts_like_a_formula_or_an_option(monkeypatch):
    # token_urlsafe may start with "-", which a spreadsheet reads as a formula.
    monkeypatch.setattr(secrets, "token_urlsafe", lambda nbytes: "-D_rfwHR9GlZ65zB")

    token = opaque_token()

    assert token[0].isalpha() and token.endswith("-D_rfwHR9GlZ65zB")
    assert len(token) <= 32
