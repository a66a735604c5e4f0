"""The study's local time: registration, forms and pages use Asia/Shanghai; storage stays UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lims.access import format_local, from_local, local_date
from lims.samples.models import Sample

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_one_local_time_formatter() -> None:
    morning = datetime(2025, 1, 7, 23, 30, tzinfo=UTC)
    assert format_local(morning, SHANGHAI) == "2025-01-08 07:30"
    assert format_local(morning, SHANGHAI, time=False) == "2025-01-08"
    assert format_local(None, SHANGHAI, empty="—") == "—"
    assert local_date(morning, SHANGHAI) == date(2025, 1, 8) != morning.date()
    assert from_local(datetime(2025, 1, 8, 7, 30), SHANGHAI) == morning  # noqa: DTZ001 - a typed, naive time
    assert from_local(datetime(2025, 1, 8, 7, 30, tzinfo=UTC),
                      SHANGHAI) == datetime(2025, 1, 8, 7, 30, tzinfo=UTC)


def _form(visit, when: str, actual_on: str = "2025-01-08"):
    form = {"actual_on": actual_on}
    for item in visit.timepoint.kit:
        if item.optional:
            continue
        key = f"kit-{item.id}"
        form.update({f"{key}-state": "collected", f"{key}-collected_at": when,
                     f"{key}-quantity": str(item.volume)})
    return form


def test_a_morning_draw_registers_on_its_visit_day_and_shows_local_time(login, session,
                                                                        make_participant) -> None:
    p = make_participant(code="ZJ-707", rt_start_on=date(2025, 1, 20), eot_on=date(2025, 2, 24))
    visit = next(v for v in p.visits if v.timepoint.code == "BASELINE")
    client = login("technician")
    r = client.post("/samples/register/ZJ-707/BASELINE", data=_form(visit, "2025-01-08T07:30"))
    assert r.status_code == 302, r.get_data(as_text=True)
    samples = session.scalars(select(Sample).where(Sample.visit_id == visit.id)).all()
    # Stored in UTC: 07:30 in Shanghai is 23:30 UTC the day before.
    assert {s.collected_at for s in samples} == {datetime(2025, 1, 7, 23, 30, tzinfo=UTC)}
    page = client.get(f"/samples/{samples[0].accession}").get_data(as_text=True)
    assert "2025-01-08 07:30" in page and "2025-01-07 23:30" not in page


def test_a_draw_after_local_midnight_is_another_day(login, session, make_participant) -> None:
    p = make_participant(code="ZJ-708", rt_start_on=date(2025, 1, 20), eot_on=date(2025, 2, 24))
    visit = next(v for v in p.visits if v.timepoint.code == "BASELINE")
    client = login("technician")
    r = client.post("/samples/register/ZJ-708/BASELINE", data=_form(visit, "2025-01-09T00:30"))
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "collected on 2025-01-09, another day than the visit (2025-01-08)" in html
