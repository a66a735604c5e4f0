"""JSON API for samples: filtered, paginated lists and one sample with its lineage and custody."""

from __future__ import annotations

from typing import Any, ClassVar

from flask import url_for
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from lims import access
from lims.core.api import SelectPage
from lims.core.permissions import permission_required
from lims.custody.service import history
from lims.extensions import db
from lims.samples import accessioning, service
from lims.samples.models import Sample
from lims.samples.preanalytics import localise
from lims.samples.presenters import sprec_for
from lims.samples.schemas import (
    ProcessedSchema,
    ProcessSchema,
    SampleDetailSchema,
    SampleQuerySchema,
    SampleSchema,
    TissueSchema,
)
from lims.samples.search import sample_query

blp = Blueprint("samples_api", __name__, description="Samples, their lineage and chain of custody")


@blp.route("/")
class Samples(MethodView):
    decorators: ClassVar[list[Any]] = [permission_required("read")]

    @blp.arguments(SampleQuerySchema, location="query")
    @blp.response(200, SampleSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """List samples (filter by participant, time point, type, status, derivation, holding site)."""
        return sample_query(current_user, **args)


@blp.route("/<string:accession>")
class SampleByAccession(MethodView):
    decorators: ClassVar[list[Any]] = [permission_required("read")]

    @blp.response(200, SampleDetailSchema)
    def get(self, accession: str) -> Any:
        """Show one sample with its SPREC code, children and full custody history."""
        return _detail(access.require_see(current_user, service.find_by_accession(db.session, accession)))


class SampleDetail:
    """A sample plus what the detail view adds (SPREC code, custody), read by SampleDetailSchema."""

    def __init__(self, sample: Sample, sprec: str | None, custody: list[Any]) -> None:
        self._sample, self.sprec, self.custody = sample, sprec, custody

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sample, name)


def _detail(sample: Sample) -> SampleDetail:
    sprec = sprec_for(sample)
    return SampleDetail(sample, sprec["code"] if sprec else None, history(db.session, sample.id))


@blp.route("/<string:accession>/process", methods=["POST"])
@permission_required("samples.register")
@blp.arguments(ProcessSchema)
@blp.response(201, ProcessedSchema)
@blp.alt_response(422, description="Impossible or missing values, or products that do not fit in the tube")
def process(args: dict[str, Any], accession: str) -> Any:
    """Process a primary tube into aliquots/derivatives with its raw pre-analytical values (all or none)."""
    sample = access.require(current_user, "samples.register",
                            service.find_by_accession(db.session, accession))
    values = localise(args, access.study_zone(sample.participant.study))
    yields = [accessioning.YieldEntry.from_body(y) for y in values.pop("yields")]
    made = accessioning.process_primary(db.session, sample, yields, by=current_user,
                                        consume=values.pop("consume"),
                                        **{k: v for k, v in values.items() if v is not None})
    return {"parent": sample.accession, "made": made, "labels": url_for("printing.sample_labels")}


@blp.route("/<string:accession>/tissue", methods=["PUT"])
@permission_required("samples.register")
@blp.arguments(TissueSchema)
@blp.response(200, SampleDetailSchema)
@blp.alt_response(422, description="Missing, impossible or inconsistent tissue pre-analytics")
def tissue(args: dict[str, Any], accession: str) -> Any:
    """Record a tissue specimen's collection type, warm and cold ischaemia, fixation and storage."""
    sample = access.require(current_user, "samples.register",
                            service.find_by_accession(db.session, accession))
    values = localise(args, access.study_zone(sample.participant.study))
    accessioning.record_tissue(db.session, sample, by=current_user, **values)
    return _detail(sample)
