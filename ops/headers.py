"""Security headers: Permissions-Policy, which Django's SecurityMiddleware does not set, and CSP."""

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

# What a view or decorator sets on a response to give it a policy of its own (django-csp 4).
PER_RESPONSE_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_exempt",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt_ro",
)


class PermissionsPolicyMiddleware:
    """Deny browser features no Porchlight page uses; passkeys stay allowed on our own origin."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.value = ", ".join(f"{feature}={allow}" for feature, allow in settings.PERMISSIONS_POLICY.items())

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.value)
        return response


class CSPMiddleware(DjangoCSPMiddleware):
    """django-csp's middleware, with the settings' policy built once instead of twice per response.

    A response without a nonce or a policy of its own, every protocol response among them, gets
    the settings' policy, the same every time; django-csp would build it (and the report-only
    one) anew for each (docs/performance.md, "What keeps the protocol endpoints cheap"). Any
    other response goes through django-csp as before.
    """

    def __init__(self, get_response):
        super().__init__(get_response)
        policies = (
            getattr(settings, "CONTENT_SECURITY_POLICY", None) or {},
            getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None) or {},
        )
        # Excluded path prefixes make the header depend on the path: leave those to django-csp.
        self.fixed = not any(policy.get("EXCLUDE_URL_PREFIXES") for policy in policies)
        built = {HEADER: build_policy(), HEADER_REPORT_ONLY: build_policy(report_only=True)}
        self.headers = {name: value for name, value in built.items() if value}

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if (
            not self.fixed
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in PER_RESPONSE_POLICY)
            # django-csp leaves Django's debug pages alone.
            or (settings.DEBUG and response.status_code in (404, 500))
        ):
            return super().process_response(request, response)
        for name, value in self.headers.items():
            response.headers.setdefault(name, value)
        # As django-csp: a nonce asked for after the header was written could not be in it.
        # (An attribute django-csp adds to the request; HttpRequest does not declare it.)
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
