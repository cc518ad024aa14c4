"""Attacks an outside review tried, one module per finding: each test reproduces the attack."""
