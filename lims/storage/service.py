"""Storage rules, one module per concern; this module is the package's face that callers import.

- :mod:`lims.storage.locations`: look-ups, positions, location paths, subtrees, capacity and occupancy;
- :mod:`lims.storage.placement`: which unit admits a sample; placing, by scan, and removing;
- :mod:`lims.storage.units`: creating and moving units;
- :mod:`lims.storage.suggest`: suggested positions and box maps;
- :mod:`lims.storage.retention`: samples past their retention period.

Every function only flushes; the caller (a request, a CLI command, the demo) commits. Two people
placing into the same position race on the database's unique constraint ``uq_placement_unit_id_row_col``:
the loser gets :class:`PositionTaken` (a :class:`Conflict`). Moves are compare-and-set on
``Placement.version`` and ``StorageUnit.version`` (SQLAlchemy's ``version_id_col``), so a move based on a
stale view is refused.
"""

from __future__ import annotations

from lims.storage.locations import (  # noqa: F401
    SEP,
    Usage,
    descendant_ids,
    get_unit,
    get_unit_by_barcode,
    location_path,
    location_paths,
    parse_position,
    site_units,
    unit_label,
    unit_path,
    unit_usage,
    usage,
)
from lims.storage.placement import (  # noqa: F401
    NEXT_FREE_ATTEMPTS,
    PLACEABLE,
    SAMPLE_HOLDERS,
    WARMER_TOLERANCE_C,
    Placed,
    PositionTaken,
    admits,
    effective_temp,
    next_free,
    occupied,
    place_by_scan,
    place_sample,
    placement_refusal,
    remove_placement,
)
from lims.storage.retention import (  # noqa: F401
    RetentionRow,
    retention_due,
)
from lims.storage.suggest import (  # noqa: F401
    SUGGEST_COLDER_BAND_C,
    Cell,
    Suggestion,
    box_map,
    loose_samples,
    suggest_location,
)
from lims.storage.units import (  # noqa: F401
    create_unit,
    move_unit,
)
