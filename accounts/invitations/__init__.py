"""Invitations: staff invite people by e-mail instead of typing passwords for them."""
