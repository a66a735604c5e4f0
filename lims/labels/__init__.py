"""Labels drawn for the printer that prints them: presets, layout in printer dots, Code 128, DataMatrix, PDF,
ZPL.

Pure rendering (no database, no Flask): what a label says is decided by the domain that owns the thing
labelled (:mod:`lims.samples.labels`, :mod:`lims.storage.labels`); printers and the queue are
:mod:`lims.printing`.
"""
