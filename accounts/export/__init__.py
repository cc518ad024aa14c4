"""A person's copy of their data (GDPR Art. 15, 20): prepared in the background, downloaded once.

``services`` prepares, hands over and expires copies; ``views`` is the "Your data" page; ``admin``
the user page's "Data" section. Its model, ``DataExport``, is an ``accounts`` model.
"""

# The task worker finds a queued task by the path it was queued under: one queued before this
# package existed names it accounts.export.data_export_prepare.
from .services import data_export_prepare  # noqa: F401
