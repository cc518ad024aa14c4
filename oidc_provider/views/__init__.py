from .authorize import AuthorizeView
from .connected_apps import ConnectedAppRevokeView, ConnectedAppsView
from .consent import ConsentAnswerView
from .device import DeviceAuthorizationView, DeviceConfirmView, DeviceView
from .discovery import DiscoveryView
from .end_session import EndSessionView
from .introspection import IntrospectionView
from .jwks import JwksView
from .registration import ClientConfigurationView, RegistrationView
from .select_account import SelectAccountView
from .token import RevokeTokenView, TokenView
from .userinfo import UserInfoView

__all__ = [
    "AuthorizeView",
    "ClientConfigurationView",
    "ConnectedAppRevokeView",
    "ConsentAnswerView",
    "ConnectedAppsView",
    "DeviceAuthorizationView",
    "DeviceConfirmView",
    "DeviceView",
    "DiscoveryView",
    "EndSessionView",
    "IntrospectionView",
    "JwksView",
    "RegistrationView",
    "RevokeTokenView",
    "SelectAccountView",
    "TokenView",
    "UserInfoView",
]
