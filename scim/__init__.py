"""SCIM 2.0 provisioning (RFC 7643, RFC 7644): HR and directory tools create, change and remove
accounts and groups over HTTP at ``/scim/v2/``, each with a bearer token of its own.

A compact implementation rather than django-scim2 (0.23), which was evaluated first and does not
fit: it needs SCIM columns added to the user model and to ``auth.Group`` (its model mixins), runs
filters as raw SQL built by scim2-filter-parser against table and column names, answers any
unexpected exception as a SCIM 500 after logging it (request bodies, passwords among them, go to
its log), returns ``status`` as a number and no ``scimType`` for a bad filter, and authenticates
through ``request.user`` rather than per-client tokens. What Porchlight needs of SCIM is the part
provisioning clients send (docs/scim.md), and each piece here is small: ``filters`` (the filter
grammar), ``patch`` (RFC 7644 §3.5.2), ``resources`` (the mapping), ``services`` (the writes, on
the accounts lifecycle), ``views``.
"""
