"""``/panel/sign-in`` and ``/panel/sign-out``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tonari.kit.errors import Unauthorized
from tonari.tenants.service import KEY_PREFIX, authenticate
from tonari.web.auth import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_SECONDS,
    CsrfRejected,
    PanelSessionDep,
    PanelUserDep,
    checked_form,
    cookie_options,
    new_sign_in_token,
    read_form,
    safe_next,
    session_cookie_value,
    sign_in_token_matches,
)
from tonari.web.rendering import render

router = APIRouter()
CREATE_KEY = "tonari apikey create -t YOUR-TENANT"
REASONS = {
    "signed_out": "Sign in with an API key of your brand to open the panel.",
    "expired": "Your panel session has expired: sign in again.",
    "revoked": "The API key of your session has been revoked: sign in with a live key "
    f"(create one with `{CREATE_KEY}`).",
    "bye": "You are signed out.",
}


def _sign_in_form(
    request: Request,
    *,
    next_path: str,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    token, cookie = new_sign_in_token()
    response = render(
        request,
        "sign_in.html",
        user=None,
        status_code=status_code,
        title="Sign in",
        sign_in_token=token,
        next_path=next_path,
        message=message,
        error=error,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        cookie,
        max_age=SIGN_IN_SECONDS,
        **cookie_options(request),  # type: ignore[arg-type]
    )
    return response


@router.get("/sign-in", response_class=HTMLResponse, summary="The sign-in form")
async def sign_in_page(request: Request) -> HTMLResponse:
    reason = request.query_params.get("reason", "signed_out")
    return _sign_in_form(
        request,
        next_path=safe_next(request.query_params.get("next")),
        message=REASONS.get(reason, REASONS["signed_out"]),
    )


@router.post("/sign-in", summary="Check an API key and open a session")
async def sign_in(request: Request, session: PanelSessionDep) -> Response:
    form = await read_form(request)
    if not sign_in_token_matches(request, form.get("csrf_token", "")):
        raise CsrfRejected("the sign-in form's token is missing or expired")
    next_path = safe_next(form.get("next"))
    raw_key = form.get("api_key", "").strip()
    error = None
    if not raw_key:
        error = f"Paste an API key (it starts with {KEY_PREFIX}_). Create one with `{CREATE_KEY}`."
    elif not raw_key.startswith(f"{KEY_PREFIX}_"):
        error = (
            f"That is not a Tonari API key: keys start with {KEY_PREFIX}_. "
            f"Create one with `{CREATE_KEY}` and paste the whole key."
        )
    else:
        try:
            await authenticate(session, raw_key)
        except Unauthorized:
            error = (
                "This API key is unknown or revoked: create one with "
                f"`{CREATE_KEY}` (`tonari apikey list -t YOUR-TENANT` shows the live ones)."
            )
    if error is not None:
        return _sign_in_form(request, next_path=next_path, error=error, status_code=401)
    value, _ = session_cookie_value(raw_key)
    response = RedirectResponse(next_path, status_code=303)
    options = cookie_options(request)
    response.set_cookie(SESSION_COOKIE, value, **options)  # type: ignore[arg-type]
    response.delete_cookie(SIGN_IN_COOKIE, **options)  # type: ignore[arg-type]
    return response


@router.post("/sign-out", summary="End the session")
async def sign_out(request: Request, user: PanelUserDep) -> Response:
    await checked_form(request, user)
    response = RedirectResponse("/panel/sign-in?reason=bye", status_code=303)
    response.delete_cookie(SESSION_COOKIE, **cookie_options(request))  # type: ignore[arg-type]
    return response
