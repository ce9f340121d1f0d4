"""Importers: other programs' stored records into pipeline's storage.

``pipeline import panko`` (:mod:`.events`, reading with :mod:`.panko`) and
``pipeline import logbook`` (:mod:`.tickets`, reading with :mod:`.logbook`)
share their shape: the source is read with SQLAlchemy Core, never written
(:mod:`.source`), or for Panko's MongoDB layout with pymongo (:mod:`.panko_mongo`); records go to storage through the public driver API in
batches (``record_events``, ``record_tickets``), idempotent, so a run that
was interrupted is finished by running it again; :mod:`.progress` shows how
far it is and :mod:`.summary` what it did.
"""
