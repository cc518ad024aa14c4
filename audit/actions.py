"""The audit log's action names: stable strings that staff search and filter by.

Every ``audit_record`` call names one of these; ``docs/audit.md`` lists them, and a test holds
that list to this enum. ``LABELS`` says each in words for the admin's audit log; the codes stay
what is stored, exported and searched.
"""

from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Action(StrEnum):
    # Signing in and out (accounts).
    LOGIN_SUCCESS = "login.success"
    LOGIN_FAILURE = "login.failure"
    LOGIN_LOCKOUT = "login_lockout"
    LOGIN_LOCKOUT_CLEARED = "login_lockout_cleared"
    LOGOUT = "logout"
    LOGOUT_RP_INITIATED = "logout.rp_initiated"
    # The user (account page) or staff ended another sign-in session (accounts/sessions.py).
    SESSION_END = "session.end"
    PASSWORD_CHECK_FAILURE = "password.check_failure"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET_REQUEST = "password_reset.request"
    PASSWORD_RESET_LIMITED = "password_reset_limited"
    # Second factors (accounts/mfa).
    MFA_VERIFY = "mfa.verify"
    MFA_FAILURE = "mfa.failure"
    MFA_DEVICE_ADD = "mfa.device_add"
    MFA_DEVICE_RENAME = "mfa.device_rename"
    MFA_DEVICE_REMOVE = "mfa.device_remove"
    RECOVERY_CODES_GENERATE = "mfa.recovery_codes_generate"
    RECOVERY_CODE_USE = "mfa.recovery_code_use"
    # What staff do to a user (accounts/admin).
    USER_DEVICE_RENAME = "user.device_rename"
    USER_DEVICE_REMOVE = "user.device_remove"
    USER_MFA_RESET = "user.mfa_reset"
    USER_PASSWORD_RESET_SEND = "user.password_reset_send"
    USER_TOKENS_REVOKE = "user.tokens_revoke"
    USER_ATTRIBUTES_CHANGE = "user.attributes_change"
    # Accounts brought over from another provider with their subject identifiers (importusers).
    USERS_IMPORT = "user.import"
    # Directory sign-in (directory/): an account made at a first directory sign-in, and a directory
    # that could not be reached (a sign-in refused with a message, or a sync stopped).
    DIRECTORY_ACCOUNT_CREATE = "directory.account_create"
    DIRECTORY_UNREACHABLE = "directory.unreachable"
    # Consent and tokens (oidc_provider).
    CONSENT_GRANT = "consent.grant"
    CONSENT_REVOKE = "consent.revoke"
    TOKEN_REVOKE = "token.revoke"
    # An API's client exchanged a user's access token for one to another API (RFC 8693).
    TOKEN_EXCHANGE = "token.exchange"
    DEVICE_APPROVE = "device.approve"
    DEVICE_DENY = "device.deny"
    # Back-channel logout deliveries (oidc_provider/logout.py): recorded as each one ends, and when
    # staff send a failed one again.
    LOGOUT_DELIVERY_DELIVERED = "logout_delivery.delivered"
    LOGOUT_DELIVERY_FAILED = "logout_delivery.failed"
    LOGOUT_DELIVERY_RETRY = "logout_delivery.retry"
    # Clients.
    CLIENT_CREATE = "client.create"
    CLIENT_CHANGE = "client.change"
    CLIENT_DELETE = "client.delete"
    CLIENT_SECRET_RESET = "client.secret_reset"
    CLIENT_REGISTER = "client.register"
    # Staff revoked the token a self-registered client manages its registration with (RFC 7592).
    CLIENT_REGISTRATION_ACCESS_TOKEN_REVOKE = "client.registration_access_token_revoke"
    REGISTRATION_TOKEN_CREATE = "registration_token.create"
    # APIs (resource servers), their scopes and roles (oidc_provider/apis.py).
    API_CREATE = "api.create"
    API_CHANGE = "api.change"
    API_DELETE = "api.delete"
    ROLE_CHANGE = "role.change"
    ROLE_DELETE = "role.delete"
    # Invitations (accounts/invitations).
    INVITATION_CREATE = "invitation.create"
    INVITATION_RESEND = "invitation.resend"
    INVITATION_WITHDRAW = "invitation.withdraw"
    INVITATION_ACCEPT = "invitation.accept"
    # People signing up for themselves (accounts/signup/services.py).
    SIGNUP_CREATE = "signup.create"
    SIGNUP_EXISTING = "signup.existing"
    SIGNUP_LIMITED = "signup.limited"
    SIGNUP_VERIFIED = "signup.verified"
    SIGNUP_APPROVE = "signup.approve"
    SIGNUP_REJECT = "signup.reject"
    # An account's lifecycle (accounts/lifecycle/services.py).
    ACCOUNT_DEACTIVATE = "account.deactivate"
    ACCOUNT_REACTIVATE = "account.reactivate"
    ACCOUNT_DELETION_REQUEST = "account.deletion_request"
    ACCOUNT_RESTORE = "account.restore"
    ACCOUNT_ERASE = "account.erase"
    # A person's copy of their data (accounts/export/services.py).
    DATA_EXPORT_REQUEST = "data_export.request"
    DATA_EXPORT_DOWNLOAD = "data_export.download"
    DATA_EXPORT_STAFF = "data_export.staff"
    DATA_EXPORT_COMMAND = "data_export.command"
    # E-mail address verification (accounts/verification/services.py).
    EMAIL_VERIFICATION_SENT = "email.verification_sent"
    EMAIL_VERIFICATION_LIMITED = "email.verification_limited"
    EMAIL_VERIFIED = "email.verified"
    EMAIL_MARKED_VERIFIED = "email.marked_verified"
    # SCIM provisioning (scim/): the clients' tokens, and what a client did to accounts and groups.
    # Deactivating and deleting an account through SCIM are account.deactivate and
    # account.deletion_request, with the client as the actor.
    SCIM_CLIENT_CREATE = "scim_client.create"
    SCIM_CLIENT_REVOKE = "scim_client.revoke"
    SCIM_USER_CREATE = "scim.user_create"
    SCIM_USER_CHANGE = "scim.user_change"
    SCIM_GROUP_CREATE = "scim.group_create"
    SCIM_GROUP_CHANGE = "scim.group_change"
    SCIM_GROUP_DELETE = "scim.group_delete"
    # Keys (oidc_provider/rotation.py, importkey, reencrypt).
    SIGNING_KEY_CREATED_ACTIVE = "signing_key.created_active"
    SIGNING_KEY_CREATED_NEXT = "signing_key.created_next"
    SIGNING_KEY_PROMOTED = "signing_key.promoted"
    SIGNING_KEY_RETIRED = "signing_key.retired"
    SIGNING_KEY_REMOVED = "signing_key.removed"
    SIGNING_KEY_IMPORTED = "signing_key.imported"
    KEY_ENCRYPTION_KEY_REENCRYPT = "key_encryption_key.reencrypt"
    # Upstream identity providers (upstream/): staff configure them, people sign in through them
    # and link or unlink their identities there, and an upstream's back-channel logout ends sessions.
    UPSTREAM_PROVIDER_CREATE = "upstream.provider_create"
    UPSTREAM_PROVIDER_CHANGE = "upstream.provider_change"
    UPSTREAM_PROVIDER_DELETE = "upstream.provider_delete"
    UPSTREAM_SIGN_IN = "upstream.sign_in"
    UPSTREAM_FAILURE = "upstream.failure"
    UPSTREAM_ACCOUNT_CREATE = "upstream.account_create"
    UPSTREAM_LINK_OFFER = "upstream.link_offer"
    UPSTREAM_LINK = "upstream.link"
    UPSTREAM_UNLINK = "upstream.unlink"
    UPSTREAM_LOGOUT = "upstream.logout"
    # The log itself.
    AUDIT_PURGE = "audit.purge"


# What the admin's audit log shows for each action; the code stays beside it for people who grep.
LABELS: dict[Action, Promise] = {
    Action.LOGIN_SUCCESS: _("Signed in"),
    Action.LOGIN_FAILURE: _("Sign-in failed"),
    Action.LOGIN_LOCKOUT: _("Locked out after failed sign-ins"),
    Action.LOGIN_LOCKOUT_CLEARED: _("Lockout lifted"),
    Action.LOGOUT: _("Signed out"),
    Action.LOGOUT_RP_INITIATED: _("Signed out from an app"),
    Action.SESSION_END: _("Sign-in session ended"),
    Action.PASSWORD_CHECK_FAILURE: _("Wrong password given to confirm a change"),
    Action.PASSWORD_CHANGED: _("Password changed"),
    Action.PASSWORD_RESET_REQUEST: _("Password reset asked for"),
    Action.PASSWORD_RESET_LIMITED: _("Password reset refused (too many asked for)"),
    Action.MFA_VERIFY: _("Second step passed"),
    Action.MFA_FAILURE: _("Second step failed"),
    Action.MFA_DEVICE_ADD: _("Authenticator added"),
    Action.MFA_DEVICE_RENAME: _("Authenticator renamed"),
    Action.MFA_DEVICE_REMOVE: _("Authenticator removed"),
    Action.RECOVERY_CODES_GENERATE: _("Recovery codes made"),
    Action.RECOVERY_CODE_USE: _("Recovery code used"),
    Action.USER_DEVICE_RENAME: _("Staff renamed a person's authenticator"),
    Action.USER_DEVICE_REMOVE: _("Staff removed a person's authenticator"),
    Action.USER_MFA_RESET: _("Staff reset a person's second step"),
    Action.USER_PASSWORD_RESET_SEND: _("Staff sent a password reset link"),
    Action.USER_TOKENS_REVOKE: _("Staff revoked a person's tokens"),
    Action.USER_ATTRIBUTES_CHANGE: _("Staff changed a person's attributes"),
    Action.USERS_IMPORT: _("People imported"),
    Action.DIRECTORY_ACCOUNT_CREATE: _("Account made from the directory"),
    Action.DIRECTORY_UNREACHABLE: _("Directory could not be reached"),
    Action.CONSENT_GRANT: _("App allowed"),
    Action.CONSENT_REVOKE: _("App's access withdrawn"),
    Action.TOKEN_REVOKE: _("Token revoked"),
    Action.TOKEN_EXCHANGE: _("Token swapped for another API's"),
    Action.DEVICE_APPROVE: _("Device sign-in allowed"),
    Action.DEVICE_DENY: _("Device sign-in refused"),
    Action.LOGOUT_DELIVERY_DELIVERED: _("Sign-out sent to an app"),
    Action.LOGOUT_DELIVERY_FAILED: _("Sign-out could not be sent to an app"),
    Action.LOGOUT_DELIVERY_RETRY: _("Sign-out to an app sent again"),
    Action.CLIENT_CREATE: _("App added"),
    Action.CLIENT_CHANGE: _("App changed"),
    Action.CLIENT_DELETE: _("App deleted"),
    Action.CLIENT_SECRET_RESET: _("App's secret reset"),
    Action.CLIENT_REGISTER: _("App registered itself"),
    Action.CLIENT_REGISTRATION_ACCESS_TOKEN_REVOKE: _("App's self-management token revoked"),
    Action.REGISTRATION_TOKEN_CREATE: _("Registration token made"),
    Action.API_CREATE: _("API added"),
    Action.API_CHANGE: _("API changed"),
    Action.API_DELETE: _("API deleted"),
    Action.ROLE_CHANGE: _("Role changed"),
    Action.ROLE_DELETE: _("Role deleted"),
    Action.INVITATION_CREATE: _("Invitation sent"),
    Action.INVITATION_RESEND: _("Invitation sent again"),
    Action.INVITATION_WITHDRAW: _("Invitation withdrawn"),
    Action.INVITATION_ACCEPT: _("Invitation accepted"),
    Action.ACCOUNT_DEACTIVATE: _("Account deactivated"),
    Action.ACCOUNT_REACTIVATE: _("Account reactivated"),
    Action.ACCOUNT_DELETION_REQUEST: _("Account deletion asked for"),
    Action.ACCOUNT_RESTORE: _("Account restored"),
    Action.ACCOUNT_ERASE: _("Account erased"),
    Action.DATA_EXPORT_REQUEST: _("Data copy asked for"),
    Action.DATA_EXPORT_DOWNLOAD: _("Data copy downloaded"),
    Action.DATA_EXPORT_STAFF: _("Staff exported a person's data"),
    Action.DATA_EXPORT_COMMAND: _("Data exported by command"),
    Action.EMAIL_VERIFICATION_SENT: _("E-mail check sent"),
    Action.EMAIL_VERIFICATION_LIMITED: _("E-mail check refused (too many sent)"),
    Action.EMAIL_VERIFIED: _("E-mail address confirmed"),
    Action.SIGNUP_CREATE: _("Signed up (address not yet confirmed)"),
    Action.SIGNUP_EXISTING: _("Sign-up with the address of an existing account (its owner was told)"),
    Action.SIGNUP_LIMITED: _("Sign-ups refused (too many)"),
    Action.SIGNUP_VERIFIED: _("Sign-up address confirmed"),
    Action.SIGNUP_APPROVE: _("Staff approved a sign-up"),
    Action.SIGNUP_REJECT: _("Staff rejected a sign-up"),
    Action.EMAIL_MARKED_VERIFIED: _("Staff marked an e-mail address confirmed"),
    Action.SCIM_CLIENT_CREATE: _("SCIM provisioning token made"),
    Action.SCIM_CLIENT_REVOKE: _("SCIM provisioning token revoked"),
    Action.SCIM_USER_CREATE: _("Account provisioned (SCIM)"),
    Action.SCIM_USER_CHANGE: _("Account changed by provisioning (SCIM)"),
    Action.SCIM_GROUP_CREATE: _("Group provisioned (SCIM)"),
    Action.SCIM_GROUP_CHANGE: _("Group changed by provisioning (SCIM)"),
    Action.SCIM_GROUP_DELETE: _("Group deleted by provisioning (SCIM)"),
    Action.SIGNING_KEY_CREATED_ACTIVE: _("Signing key made and in use"),
    Action.SIGNING_KEY_CREATED_NEXT: _("Next signing key made (published, not yet signing)"),
    Action.SIGNING_KEY_PROMOTED: _("Signing key put in use"),
    Action.SIGNING_KEY_RETIRED: _("Signing key retired"),
    Action.SIGNING_KEY_REMOVED: _("Signing key removed"),
    Action.SIGNING_KEY_IMPORTED: _("Signing key imported"),
    Action.KEY_ENCRYPTION_KEY_REENCRYPT: _("Stored keys re-encrypted"),
    Action.UPSTREAM_PROVIDER_CREATE: _("Upstream sign-in provider added"),
    Action.UPSTREAM_PROVIDER_CHANGE: _("Upstream sign-in provider changed"),
    Action.UPSTREAM_PROVIDER_DELETE: _("Upstream sign-in provider deleted"),
    Action.UPSTREAM_SIGN_IN: _("Signed in through an upstream provider"),
    Action.UPSTREAM_FAILURE: _("Upstream sign-in failed"),
    Action.UPSTREAM_ACCOUNT_CREATE: _("Account made by an upstream sign-in"),
    Action.UPSTREAM_LINK_OFFER: _("Upstream identity waiting for its account's owner"),
    Action.UPSTREAM_LINK: _("Upstream identity linked"),
    Action.UPSTREAM_UNLINK: _("Upstream identity unlinked"),
    Action.UPSTREAM_LOGOUT: _("Signed out by an upstream provider"),
    Action.AUDIT_PURGE: _("Old audit events purged"),
}


def action_label(code: str) -> str:
    """Return what the audit log shows for an action code (the code itself if it is not one we know)."""
    try:
        return str(LABELS[Action(code)])
    except (ValueError, KeyError):
        return code
