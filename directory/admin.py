"""The user page's directory section: which directory entry an account is, and when it was last read."""

from accounts.models import User
from accounts.user_page import USER_PAGE_SECTIONS, UserPageSection

from .models import DirectoryAccount


def _directory_context(user: User) -> dict:
    return {"account": DirectoryAccount.objects.filter(user=user).first()}


USER_PAGE_SECTIONS.append(
    UserPageSection(template="admin/directory/_user_directory.html", context=_directory_context, order=26)
)
