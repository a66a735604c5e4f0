"""Installing a protocol builds the study tables; installing it again changes nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from lims.config import DEFAULT_PROTOCOL
from lims.core.errors import Conflict
from lims.studies.models import KitItem, TimePoint
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol


def test_installed_study_mirrors_the_protocol(session, study) -> None:
    protocol = load_protocol(DEFAULT_PROTOCOL)
    assert [tp.code for tp in study.timepoints] == [tp.code for tp in protocol.timepoints]
    assert sorted(ss.site.code for ss in study.sites) == ["NB", "SX", "WZ", "ZJ"]
    n_kit = sum(len(tp.kit) for tp in protocol.timepoints)
    assert session.scalar(select(func.count(KitItem.id)).join(TimePoint)
                          .where(TimePoint.study_id == study.id)) == n_kit


def test_install_twice_is_harmless_and_another_version_is_refused(session, study) -> None:
    protocol = load_protocol(DEFAULT_PROTOCOL)
    again, created = install_protocol(session, protocol)
    assert again.id == study.id and created is False
    with pytest.raises(Conflict, match="another version of its protocol"):
        install_protocol(session, replace(protocol, sha256="0" * 64))
