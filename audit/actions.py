"""The audit log's action names: stable strings that staff search and filter by.

Every ``audit_record`` call names one of these; ``docs/audit.md`` lists them, and a test holds
that list to this enum.
"""

from enum import StrEnum


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
    # Keys (oidc_provider/rotation.py, importkey, reencrypt).
    SIGNING_KEY_CREATED_ACTIVE = "signing_key.created_active"
    SIGNING_KEY_CREATED_NEXT = "signing_key.created_next"
    SIGNING_KEY_PROMOTED = "signing_key.promoted"
    SIGNING_KEY_RETIRED = "signing_key.retired"
    SIGNING_KEY_REMOVED = "signing_key.removed"
    SIGNING_KEY_IMPORTED = "signing_key.imported"
    KEY_ENCRYPTION_KEY_REENCRYPT = "key_encryption_key.reencrypt"
    # The log itself.
    AUDIT_PURGE = "audit.purge"
