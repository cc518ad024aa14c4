"""The "Your data" page: prepare a copy of one's data, then download it once (GDPR Art. 15, 20).

Both the page and the download ask for a recent sign-in. The one-time download token lives in
the user's server-side session only: never in a URL (so never in a log) nor in the page.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ..models import DataExport
from ..recent_auth import recent_authentication_required
from .services import (
    DataExportUnavailable,
    data_export_current,
    data_export_filename,
    data_export_request,
    data_export_take,
    data_export_token_matches,
)

SESSION_KEY = "data_export_token"
# Seconds between reloads of the page while the copy is being prepared.
REFRESH_SECONDS = 5


@never_cache
@recent_authentication_required
@require_http_methods(["GET", "POST"])
def data_export_page(request: HttpRequest) -> HttpResponse:
    """Show the state of the user's copy (GET); ask for a new one (POST)."""
    if request.method == "POST":
        _, token = data_export_request(user=request.user, requested_by=request.user, request=request)
        request.session[SESSION_KEY] = token
        return redirect("accounts:data-export")
    export = data_export_current(user=request.user)
    context = {
        "export": export,
        "Status": DataExport.Status,
        "here": data_export_token_matches(export=export, token=request.session.get(SESSION_KEY, "")),
        "refresh_seconds": REFRESH_SECONDS,
        "lifetime_minutes": settings.PORCHLIGHT["DATA_EXPORT_LIFETIME"] // 60,
    }
    return render(request, "accounts/data_export.html", context)


@never_cache
@recent_authentication_required
@require_http_methods(["GET", "POST"])
def data_export_download(request: HttpRequest) -> HttpResponse:
    """Hand over the prepared copy as a JSON file, once."""
    if request.method == "GET":
        # Where a too-late POST lands after signing in again (recent_auth.py): confirm once more.
        return redirect("accounts:data-export")
    try:
        content = data_export_take(
            user=request.user, token=request.session.get(SESSION_KEY, ""), request=request
        )
    except DataExportUnavailable as unavailable:
        status = 404 if unavailable.reason == "unknown" else 410
        return render(
            request, "accounts/data_export_gone.html", {"reason": unavailable.reason}, status=status
        )
    response = HttpResponse(content, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{data_export_filename(user=request.user)}"'
    response["Cache-Control"] = "no-store"
    return response
