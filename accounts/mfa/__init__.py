"""Multi-factor authentication: TOTP apps, recovery codes and passkeys, on django-otp devices.

Split the way django-allauth's MFA app is: ``totp`` and ``recovery_codes`` hold each kind of
authenticator, ``policy`` says who must use one, ``flows`` holds the steps views call.
``models`` holds the devices, which keep TOTP keys encrypted and recovery codes hashed.
"""
