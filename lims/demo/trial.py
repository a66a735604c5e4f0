"""The demo trial's core: sites' storage, participants, their schedule, visits and samples, from one seed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.custody.service import record_event
from lims.demo.context import DATA_CUT, ENROLMENT_DAYS, FIRST_ENROLMENT, Summary
from lims.participants.models import Participant, Visit
from lims.participants.service import enrol, plan_visits, record_consent
from lims.samples.models import Sample
from lims.samples.service import register_missed, register_primary, split
from lims.storage.models import Placement, StorageUnit
from lims.studies.models import KitItem, SampleType, Study


def _utc(d: date, hours: float) -> datetime:
    return datetime.combine(d, time(0, 0), tzinfo=UTC) + timedelta(hours=hours)


class TrialGenerator:
    """Builds the demo trial in one session, deterministically from ``seed``."""

    def __init__(self, session: Session, study: Study, seed: int) -> None:
        self.session = session
        self.study = study
        self.rng = np.random.default_rng(seed)
        self.types = {t.code: t for t in study.sample_types}
        self.boxes: dict[str, list[StorageUnit]] = {}
        self.next_slot: dict[int, int] = {}
        self.cabinets: dict[str, StorageUnit] = {}
        self.tanks: dict[str, StorageUnit] = {}
        self.technicians: dict[str, User] = {}
        self.summary = Summary(created=True)

    # ----- participants and schedule -------------------------------------------------------------
    def participants(self, n: int) -> None:
        sites = [ss.site for ss in self.study.sites]
        weights = np.array([ss.enrolment_weight for ss in self.study.sites])
        site_idx = self.rng.choice(len(sites), size=n, p=weights / weights.sum())
        enrol_offsets = np.sort(self.rng.integers(0, ENROLMENT_DAYS, size=n))
        counters: dict[str, int] = {}
        for i in range(n):
            site = sites[site_idx[i]]
            counters[site.code] = counters.get(site.code, 0) + 1
            self.participant(site, f"{site.code}-{counters[site.code]:03d}",
                             FIRST_ENROLMENT + timedelta(days=int(enrol_offsets[i])))
        self.summary.per_site = counters

    def participant(self, site: object, code: str, enrolled_on: date) -> None:
        rng = self.rng
        ct = rng.choice(["T2", "T3", "T4a"], p=[0.15, 0.70, 0.15])
        cn = "N0" if rng.random() < 0.25 else str(rng.choice(["N1", "N2", "N3"], p=[0.6, 0.3, 0.1]))
        stage = "II" if (cn == "N0" and ct != "T4a") else ("IVA" if ct == "T4a" or cn == "N3" else "III")
        p = enrol(self.session, self.study, site=site, code=code, enrolled_on=enrolled_on,  # type: ignore[arg-type]
                  sex="M" if rng.random() < 0.82 else "F",
                  age=int(np.clip(round(rng.normal(60, 7)), 40, 75)), ecog=int(rng.random() < 0.4),
                  tumour_location=str(rng.choice(["upper", "middle", "lower"], p=[0.15, 0.5, 0.35])),
                  ct=str(ct), cn=cn, cm="M0", stage=stage)
        record_consent(self.session, p, version="2.1",
                       signed_on=enrolled_on - timedelta(days=int(rng.integers(0, 10))),
                       scopes={"MARKER_RESEARCH": True, "GENETIC_RESEARCH": bool(rng.random() < 0.9),
                               "THIRD_PARTY_SHARING": bool(rng.random() < 0.7),
                               "FUTURE_CONTACT": bool(rng.random() < 0.8)})
        # Treatment and response: schedule anchors (clinical events arrive with the clinical module).
        p.rt_start_on = enrolled_on + timedelta(days=int(rng.integers(5, 15)))
        p.eot_on = p.rt_start_on + timedelta(days=int(rng.integers(31, 38)))
        dropout = rng.random() < 0.05
        if not dropout:
            p.cre1_on = p.eot_on + timedelta(days=int(rng.integers(28, 43)))
            distant = rng.random() < 0.04
            if not distant and rng.random() < 0.45 / 0.96:
                p.randomised_on = p.cre1_on + timedelta(days=int(rng.integers(3, 15)))
                p.stratum = "CCR_SURGERY" if rng.random() < 0.5 else "CCR_WW"
            elif not distant:
                p.stratum = "NON_CCR_SURGERY"
            if p.stratum in ("CCR_SURGERY", "NON_CCR_SURGERY"):
                p.surgery_on = p.cre1_on + timedelta(days=int(rng.integers(14, 29)))
        for anchor_field in ("cre1_on", "randomised_on", "surgery_on", "eot_on", "rt_start_on"):
            value = getattr(p, anchor_field)
            if value is not None and value > DATA_CUT:
                setattr(p, anchor_field, None)
        self.session.flush()
        for visit in plan_visits(self.session, p):
            self.visit(p, visit, dropout)
        if rng.random() < 0.03:
            self.withdraw(p)

    def withdraw(self, p: Participant) -> None:
        consent = p.consent
        assert consent is not None
        withdrawn = p.enrolled_on + timedelta(days=int(self.rng.integers(60, 400)))
        if withdrawn < DATA_CUT:
            consent.withdrawn_on = withdrawn
            consent.withdrawal_reason = "participant request"

    def visit(self, p: Participant, visit: Visit, dropout: bool) -> None:
        rng = self.rng
        if visit.planned_on is None or visit.planned_on > DATA_CUT:
            return
        if dropout and visit.timepoint.code not in ("BASELINE", "MID_NCRT", "EOT"):
            visit.status = "missed"
            visit.note = "participant left the study before CRE1"
            return
        jitter = int(rng.integers(-visit.timepoint.window_before, visit.timepoint.window_after + 1))
        if rng.random() < 0.05:
            jitter = visit.timepoint.window_after + int(rng.integers(2, 8))
        actual = visit.planned_on + timedelta(days=jitter)
        if actual > DATA_CUT:
            return
        visit.actual_on = actual
        visit.status = "done"
        tech = self.technicians[p.site.code]
        for kit in visit.timepoint.kit:
            missed_p = 0.30 if kit.sample_type.code == "STOOL" else 0.05
            if kit.optional:
                missed_p = 0.5
            if rng.random() < missed_p:
                reason = ("stool kit not returned" if kit.sample_type.code == "STOOL"
                          else str(rng.choice(["not drawn: venous access failed", "tube not available",
                                               "participant declined this sample",
                                               "forgotten at the visit"])))
                register_missed(self.session, visit, kit, reason=reason, by=tech)
                self.summary.missed += 1
                continue
            self.collect(p, visit, kit, tech)

    # ----- samples -------------------------------------------------------------------------------
    def collect(self, p: Participant, visit: Visit, kit: KitItem, tech: User) -> None:
        assert visit.actual_on is not None
        collected = _utc(visit.actual_on, 7.5 + self.rng.random() * 4)  # morning clinic, times in UTC
        container = kit.container_type.code if kit.container_type else ""
        values: dict[str, object] = {"collected_at": collected}
        derivative_values: dict[str, object] = {}
        if kit.sample_type.code == "WHOLE_BLOOD":
            derivative_values = self._blood_processing(container, collected)
        elif kit.sample_type.code == "STOOL":
            received = collected + timedelta(hours=12 + self.rng.random() * 11)
            values.update({"processing_started_at": received, "precentrifugation_temp_c": 21.0, "spun": False,
                           "frozen_at": received + timedelta(minutes=40), "storage_temp_c": -80.0,
                           "storage_container": "CRYO"})
            derivative_values = {k: v for k, v in values.items() if k != "collected_at"}
        elif kit.sample_type.code in ("FFPE", "FROZEN_TISSUE"):
            values.update(self._tissue_handling(visit, kit, collected))
        primary = register_primary(self.session, visit, kit, sample_type=kit.sample_type, quantity=kit.volume,
                                   unit=kit.unit, by=tech, **values)  # type: ignore[arg-type]
        self.summary.samples += 1
        self._process(primary, p, kit, tech, derivative_values, collected)

    def _blood_processing(self, container: str, collected: datetime) -> dict[str, object]:
        """The pre-analytics of a blood tube's derivatives: delay by container, spins, freezing."""
        rng = self.rng
        if container == "STRECK":
            delay_h = 4 + rng.random() * 92
        elif container == "K2EDTA":
            delay_h = float(rng.lognormal(np.log(1.5), 0.6))
            if rng.random() < 0.05:
                delay_h = 6 + rng.random() * 6
        elif container == "CPT":
            delay_h = 1 + rng.random() * 6
        else:
            delay_h = 0.5 + rng.random() * 0.5
        started = collected + timedelta(hours=delay_h)
        two_spins = container in ("STRECK", "K2EDTA")
        if container == "CPT":
            spin = {"spin1_g": 1500.0, "spin1_min": 30.0, "spin1_temp_c": 21.0, "spin1_brake": False,
                    "spin2_done": False}
        else:
            spin = {"spin1_g": 1600.0 if two_spins else 2000.0, "spin1_min": 10.0, "spin1_temp_c": 20.0,
                    "spin1_brake": True, "spin2_done": two_spins}
            if two_spins:
                spin.update({"spin2_g": 16000.0, "spin2_min": 10.0, "spin2_temp_c": 20.0,
                             "spin2_brake": True})
        spin_minutes = spin["spin1_min"] + spin.get("spin2_min", 0.0) + 5.0
        spun_until = started + timedelta(minutes=spin_minutes)
        frozen = spun_until + timedelta(minutes=10 + float(rng.random()) * 35)
        return {
            "processing_started_at": started, "precentrifugation_temp_c": 21.0, "spun": True, **spin,
            "last_spin_ended_at": spun_until,
            "postspin_temp_c": 21.0, "frozen_at": frozen,
            "storage_temp_c": -196.0 if container == "CPT" else -80.0,
            "storage_container": "CRYO" if container == "CPT" else "PP",
            "storage_via_minus80": True if container == "CPT" else None,
            "haemolysed": bool(rng.random() < 0.03),
        }

    def _tissue_handling(self, visit: Visit, kit: KitItem, excised: datetime) -> dict[str, object]:
        """A specimen's collection type, ischaemia and fixation (surgical resections and biopsies)."""
        rng = self.rng
        surgical = visit.timepoint.code == "SURGERY"
        values: dict[str, object] = {"collection_type": "SRG" if surgical else "BPS", "excised_at": excised}
        if surgical:
            values["clamped_at"] = excised - timedelta(minutes=30 + float(rng.random()) * 25)
        if kit.sample_type.code == "FFPE":
            fix_start = excised + timedelta(minutes=(12 + float(rng.random()) * 6) if surgical else 1)
            hours = (26 + rng.random() * 18) if surgical else (10 + rng.random() * 12)
            values.update({"fixation_type": "NBF", "fixation_started_at": fix_start,
                           "fixation_ended_at": fix_start + timedelta(hours=hours),
                           "storage_temp_c": 20.0, "storage_container": "PARAFFIN"})
        else:
            values.update({"fixation_type": "SNP", "fixation_started_at": excised + timedelta(minutes=1),
                           "storage_temp_c": -80.0, "storage_container": "CRYO"})
        return values

    def _process(self, primary: Sample, p: Participant, kit: KitItem, tech: User,
                 derivative_values: dict[str, object], collected: datetime) -> None:
        """Make the kit's aliquots and derivatives, store them, and consume or store the primary."""
        site = p.site.code
        if not kit.yields:
            self.store(primary, site, tech)
            return
        for y in kit.yields:
            ytype: SampleType = self.types[y["sample_type"]]
            same_type = ytype.id == primary.sample_type_id
            children = split(self.session, primary, sample_type=ytype, count=int(y["aliquots"]),
                             volume=float(y["volume"]), unit=ytype.unit if not same_type else primary.unit,
                             by=tech, derivation="aliquot" if same_type else "derivative",
                             at=derivative_values.get("frozen_at") or collected,  # type: ignore[arg-type]
                             **{k: v for k, v in derivative_values.items() if k != "collected_at"})
            self.summary.samples += len(children)
            for child in children:
                self.store(child, site, tech)
        if kit.sample_type.code == "WHOLE_BLOOD":
            primary.status = "consumed"
            primary.quantity = 0.0
            record_event(self.session, primary.id, "consumed", by=tech,
                         at=derivative_values.get("frozen_at") or collected,  # type: ignore[arg-type]
                         site_code=site, reason="processed into derivatives")
        elif primary.status != "consumed":
            self.store(primary, site, tech)

    # ----- storage -------------------------------------------------------------------------------
    def storage(self) -> None:
        for ss in self.study.sites:
            site = ss.site
            freezer = StorageUnit(site=site, kind="freezer", name=f"{site.code} -80 °C freezer 1",
                                  barcode=f"{site.code}-FRZ1", set_temp_c=-80.0)
            tank = StorageUnit(site=site, kind="ln2_tank", name=f"{site.code} LN2 tank 1",
                               barcode=f"{site.code}-LN2-1", set_temp_c=-190.0)
            cabinet = StorageUnit(site=site, kind="block_cabinet", name=f"{site.code} FFPE block cabinet",
                                  barcode=f"{site.code}-BLK1", set_temp_c=20.0)
            self.session.add_all([freezer, tank, cabinet])
            self.cabinets[site.code] = cabinet
            self.tanks[site.code] = tank
            self.boxes[site.code] = []
            self._freezer = freezer
        self.session.flush()

    def _box(self, site_code: str, parent_kind: str) -> StorageUnit:
        boxes = [b for b in self.boxes[site_code] if b.box_type == parent_kind]
        if boxes and self.next_slot[boxes[-1].id] <= 81:
            return boxes[-1]
        parent = self.session.scalar(select(StorageUnit).where(
            StorageUnit.barcode
            == (f"{site_code}-FRZ1" if parent_kind == "freezer" else f"{site_code}-LN2-1")))
        assert parent is not None
        number = len(boxes) + 1
        rack_no = (number - 1) // 12 + 1
        rack = self.session.scalar(select(StorageUnit).where(StorageUnit.parent_id == parent.id,
                                                             StorageUnit.name == f"Rack {rack_no}"))
        if rack is None:
            rack = StorageUnit(site_id=parent.site_id, parent=parent, kind="rack", name=f"Rack {rack_no}",
                               barcode=f"{parent.barcode}-R{rack_no}")
            self.session.add(rack)
        box = StorageUnit(site_id=parent.site_id, parent=rack, kind="box", name=f"Box {number:03d}",
                          barcode=f"{parent.barcode}-B{number:03d}", rows=9, cols=9, box_type=parent_kind)
        self.session.add(box)
        self.session.flush()
        self.boxes[site_code].append(box)
        self.next_slot[box.id] = 1
        return box

    def store(self, sample: Sample, site_code: str, tech: User) -> None:
        kind = sample.sample_type.kind
        if sample.storage_container == "PARAFFIN":
            unit, row, col = self.cabinets[site_code], None, None
        else:
            unit = self._box(site_code, "ln2_tank" if (sample.storage_temp_c or 0) < -150 else "freezer")
            slot = self.next_slot[unit.id]
            self.next_slot[unit.id] = slot + 1
            row, col = (slot - 1) // 9 + 1, (slot - 1) % 9 + 1
        del kind
        self.session.add(Placement(sample_id=sample.id, unit_id=unit.id, row=row, col=col))
        sample.status = "in_storage"
        where = unit.barcode + (f" {chr(64 + row)}{col}" if row else "")
        record_event(self.session, sample.id, "stored", by=tech, at=sample.frozen_at or sample.collected_at,
                     site_code=site_code, to_location=where)


