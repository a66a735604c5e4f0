"""Accounts: users, roles and site membership."""
