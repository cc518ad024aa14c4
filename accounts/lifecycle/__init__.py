"""An account's lifecycle: deactivate, reactivate, delete (closed now, erased after a grace period), restore.

``services`` holds the steps, ``views`` the user's own "Delete account" pages, ``admin`` the user
page's "Account status" section.
"""
