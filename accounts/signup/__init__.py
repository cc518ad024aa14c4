"""People creating their own account: the sign-up page, its confirmation mail, and staff review."""
