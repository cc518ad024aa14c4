"""E-mail address verification: a mailed link proves the person receives mail at the address.

``services`` makes, sends and checks the links; ``views`` the pages the links open; ``admin`` the
user page's e-mail section, where staff resend a link or vouch for the address.
"""
