"""Participants: pseudonymous study IDs, consent, and scheduled visits."""
