"""Derive the SPREC (Standard PREanalytical Code) of a sample from its stored raw pre-analytical values.

Fluid code:  type-container-precentrifugation-centrifugation-second centrifugation-postcentrifugation-storage,
e.g. ``PL2-PED-A-B-I-A-A``.  Solid code:  type-collection-warm ischaemia-cold ischaemia-fixation-fixation
time-storage, e.g. ``TIS-SRG-E-C-NBF-F-P``.

A missing value is never guessed: the element becomes the standard's *unknown* letter ``X`` (``XXX`` for the
three-letter elements).  A recorded value that falls in no band of the standard becomes *other*,
``Z``/``ZZZ``.
``N`` is only used where the standard means "not applicable / none" (no centrifugation, no second spin, no
warm ischaemia for a biopsy, no fixation time for a frozen sample).

Where the rules live: :mod:`lims.samples.sprec_rules` (inputs, ranges, storage, helpers),
:mod:`lims.samples.sprec_fluid` and :mod:`lims.samples.sprec_solid` (each sample kind's own elements). Every
rule returns its letter with a deferred reason, so :func:`derive` (the code) and :func:`explain` (the sample
page) come from the same rules; a code alone writes no text.

Version: the letters are SPREC 2.0 (Betsou et al., Biopreserv Biobank 2012;10:366, PMC6463986 Table 1),
checked against the SPRECLib model (chrmey/SPRECLib ``src/de/spreclib/model``), which uses the same X =
unknown and Z = other.  Known differences and choices:

* SPRECLib codes a cold 6000-10000 g spin as ``F`` (a duplicate of the cold 3000-6000 g letter); the
  standard's sequence gives ``H``, which we use.
* SPRECLib names the 24-48 h pre-centrifugation band ``TWENTYFOUR_TO_EIGHTYFOUR_HOURS`` but its bounds are
  1440-2880 min; we use 24-48 h (K/L) and >= 48 h (M/N), as domain.md does.
* Storage letters T (PP 40-500 uL, -20 C), V (PP 0.5-2 mL, below -135 C) and W (PP 40-500 uL, below -135 C)
  come from SPRECLib's long-term storage list; V and W mean *below -135 C* (a -140 C freezer or liquid
  nitrogen), so a PP tube at -140 C is ``V``, not ``Z``.  ``Y`` is the original primary container at -85 to
  -60 C *or*
  -35 to -18 C (SPRECLib lists both rows).  Cryotubes code ``C``/``N`` in liquid nitrogen (its vapour phase
  included, <= -150 C) and ``D`` at -80 C.  Straws, microplates, bags, >= 5 mL tubes and programmable freezing
  (E) have no stored field here, so such samples code as ``Z``.
* Solid tissue uses the same storage list.  A frozen specimen in a cryotube in liquid nitrogen needs to know
  whether it went through -80 C first (``N``) or straight into nitrogen (``C``): :class:`SolidPreanalytics`
  carries ``storage_via_minus80`` for that (the tissue form asks), so it is no longer always ``X``.
* SPREC 3.0 (Betsou 2018) "includes more options ... such as tissue ischemia times" (IBBL announcement); its
  revised ischaemia bands were not verified, so the warm/cold ischaemia bands below are the 2.0 ones.
* Container codes come from the protocol: SPREC 3.0 has ``SCK`` (Streck cell-free DNA BCT) and ``OMN`` (stool
  tube with stabiliser), which the shipped protocol uses.
* Fixation, collection, type and container codes are passed through from the protocol (upper-cased), so 3.0
  codes (e.g. fixation ``ALL``, ``HST``; collection ``BSL``) work without a code change.

Band boundaries: every time band is half-open ``[lower, upper)`` (so exactly 2 h pre-centrifugation is ``C``,
not
``A``; exactly 48 h is ``M``/``N``), except fixation time ``B``, which domain.md gives as "<= 1 h": exactly 60
min is ``B`` and ``C`` is "more than 1 h, under 4 h".  Temperature ranges are inclusive: RT = 18-28 C
(SPRECLib), cold = 2-10 C, body = 35-38 C; -80 C storage = -85 to -60 C, -20 C storage = -35 to -18 C, liquid
nitrogen <= -150 C, "below -135 C" < -135 C.  Centrifugation durations 10-15 min are inclusive.  ``M``
(Ficoll-type spin, "RT 30 min < 1000 g no brake") accepts 25-35 min because the standard gives a nominal time,
not a band. PP aliquots of exactly 500 uL are ``A``/``B`` (0.5-2 mL), not ``S`` (40-500 uL): domain.md codes
its 0.5 mL serum aliquots ``A``.
"""

from __future__ import annotations

from lims.samples.sprec_fluid import fluid_elements
from lims.samples.sprec_rules import (
    NONE,
    OTHER,
    UNKNOWN,
    FluidPreanalytics,
    Letter,
    SolidPreanalytics,
    SprecError,
)
from lims.samples.sprec_solid import solid_elements

__all__ = ["NONE", "OTHER", "UNKNOWN", "Element", "FluidPreanalytics", "SolidPreanalytics", "SprecError",
           "derive", "explain", "explain_fluid", "explain_solid", "fluid_code", "solid_code"]

Element = tuple[str, str, str]


def _code(elements: list[tuple[str, Letter]]) -> str:
    return "-".join(letter for _, (letter, _why) in elements)


def _explained(elements: list[tuple[str, Letter]]) -> list[Element]:
    return [(name, letter, why()) for name, (letter, why) in elements]


def fluid_code(p: FluidPreanalytics) -> str:
    """Return the 7-element SPREC of a fluid sample."""
    return _code(fluid_elements(p))


def solid_code(p: SolidPreanalytics) -> str:
    """Return the 7-element SPREC of a solid-tissue sample."""
    return _code(solid_elements(p))


def derive(p: FluidPreanalytics | SolidPreanalytics) -> str:
    """Return the SPREC of a fluid or solid sample: the letters alone, no reason is written (an export derives
    one per sample)."""
    return solid_code(p) if isinstance(p, SolidPreanalytics) else fluid_code(p)



def explain(p: FluidPreanalytics | SolidPreanalytics) -> list[Element]:
    """Return (element, letter, reason) for each element of the sample's SPREC, for the sample page: the same
    rules as :func:`derive`, with their reasons written out."""
    return explain_solid(p) if isinstance(p, SolidPreanalytics) else explain_fluid(p)


def explain_fluid(p: FluidPreanalytics) -> list[Element]:
    """Return (element, letter, reason) for each element of a fluid sample's SPREC."""
    return _explained(fluid_elements(p))


def explain_solid(p: SolidPreanalytics) -> list[Element]:
    """Return (element, letter, reason) for each element of a solid-tissue sample's SPREC."""
    return _explained(solid_elements(p))
