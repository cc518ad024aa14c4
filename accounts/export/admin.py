"""The user page's "Data" section: staff download a person's data export (GDPR Art. 15, 20)."""

from django.http import HttpRequest, HttpResponse

from ..models import User
from ..user_page import USER_PAGE_SECTIONS, UserPageSection
from .services import data_export_current, data_export_direct, data_export_filename


def _data_context(user: User) -> dict:
    return {"export": data_export_current(user=user)}


def _data_export(request: HttpRequest, user: User) -> HttpResponse:
    """Answer with ``user``'s data export as a JSON file; audited with the staff member as actor."""
    content = data_export_direct(user=user, actor=request.user, request=request)
    response = HttpResponse(content, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{data_export_filename(user=user)}"'
    response["Cache-Control"] = "no-store"
    return response


USER_PAGE_SECTIONS.append(
    UserPageSection(
        template="admin/accounts/user/_data.html",
        context=_data_context,
        actions={"data_export": _data_export},
        order=80,
    )
)
