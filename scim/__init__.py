"""SCIM 2.0 provisioning (RFC 7643, RFC 7644): HR and directory tools create, change and remove
accounts and groups over HTTP at ``/scim/v2/``, each with a bearer token of its own."""
