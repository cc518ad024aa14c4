"""Shared infrastructure that imports no app."""
