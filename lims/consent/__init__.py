"""Consent: what a participant's consent allows (one rule set every path asks) and withdrawal as one
action."""

from lims.consent.rules import (
    PURPOSES,
    ConsentState,
    decide,
    genetic_types,
    is_genetic,
    refusal,
    state_of,
    states,
    usable,
    usable_samples,
)

__all__ = ["PURPOSES", "ConsentState", "decide", "genetic_types", "is_genetic", "refusal", "state_of",
           "states",
           "usable", "usable_samples"]
