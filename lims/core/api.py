"""Helpers every domain's JSON API shares."""

from __future__ import annotations

from typing import Any

from flask_smorest import Page
from sqlalchemy import func, select

from lims.extensions import db


class SelectPage(Page):
    """Paginate a SQLAlchemy ``select()`` in the database: count once, fetch only the page's rows."""

    @property
    def item_count(self) -> int:
        return db.session.scalar(select(func.count()).select_from(self.collection.order_by(None).subquery())) or 0

    @property
    def items(self) -> list[Any]:
        stmt = self.collection.limit(self.page_params.page_size).offset(self.page_params.first_item)
        return list(db.session.scalars(stmt))
