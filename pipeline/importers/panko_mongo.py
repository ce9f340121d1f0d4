"""Reading a Panko database in Panko 10's MongoDB layout, page by page.

Panko's MongoDB driver keeps each event as one document of the collection
``event`` in the URL's database::

    {"_id": message_id, "event_type": name, "timestamp": date,
     "traits": [{"trait_name": name, "trait_type": 1-4, "trait_value": value}, ...],
     "raw": {...}}

with ``raw`` ``{}`` when the notification was not kept, BSON dates
(milliseconds, UTC) for the time and for datetime traits, and the index
``event_type_idx`` on (``event_type``, ``timestamp``) (``event_ttl`` on
``timestamp`` too where Panko expired events).

Pages come in ``_id`` order, each starting after the last id read: ``_id``
is Panko's message id, unique and always indexed, so a page is one index
range scan wherever it lies, memory holds one page, and the last id read is
where an interrupted import goes on (``--after-id``, the message id).
The narrowing is done by the server: ``since``/``until`` become inclusive
bounds on ``timestamp`` (a bound finer than a millisecond is rounded to the
millisecond that keeps the comparison exact), event types an ``$in``.

Only string ids can be paged that way (MongoDB compares a string bound with
strings only); Panko writes nothing else, and documents with another
``_id`` are counted by :meth:`PankoMongoReader.unpaged` and refused. A
document not shaped as Panko writes it still becomes a :class:`PankoEvent`,
whose ``problem`` says what is wrong, so the import refuses it with that
reason. The database is only read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.exceptions import ConfigError, MissingExtra
from pipeline.importers.panko import PankoEvent, PankoFilter, PankoId
from pipeline.models import to_utc
from pipeline.storage.base import dress_url

if TYPE_CHECKING:
    from pymongo.collection import Collection

SCHEMES = ("mongodb", "mongodb+srv")
COLLECTION = "event"
UNPAGED = "Panko event whose _id is not a string (Panko's ids are message ids)"
DEFAULT_SERVER_SELECTION_MS = 5000
_MS = dt.timedelta(milliseconds=1)
_TRAIT_KEYS = ("trait_name", "trait_type", "trait_value")


def is_mongodb_url(url: str) -> bool:
    """True when ``url`` names a MongoDB server (``mongodb://``, ``mongodb+srv://``)."""
    return urllib.parse.urlsplit(url).scheme.lower() in SCHEMES


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    # Imported here: pymongo (and bson) may be missing until open_reader checked.
    from pipeline.storage.impl_mongodb.errors import translated

    with translated(action):
        yield


def _client(url: str) -> Any:
    try:
        import bson
        import pymongo
    except ImportError:
        raise MissingExtra("pymongo", "mongodb") from None
    options: dict[str, Any] = {
        "tz_aware": True,
        # A date beyond Python's years decodes as DatetimeMS instead of
        # failing the whole page; that document alone is refused.
        "datetime_conversion": bson.DatetimeConversion.DATETIME_AUTO,
    }
    if "serverselectiontimeoutms" not in urllib.parse.urlsplit(url).query.lower():
        options["serverSelectionTimeoutMS"] = DEFAULT_SERVER_SELECTION_MS
    try:
        return pymongo.MongoClient(url, **options)
    except (pymongo.errors.ConfigurationError, ValueError) as err:
        raise ConfigError(f"invalid MongoDB URL {dress_url(url)!r}: {err}") from err


@contextlib.contextmanager
def open_reader(url: str, where: PankoFilter) -> Iterator[PankoMongoReader]:
    """A reader of the Panko database at ``url``; its client is closed afterwards.

    Raises :class:`ConfigError` when the URL names no database or the
    database has no ``event`` collection, :class:`MissingExtra` without pymongo.
    """
    client = _client(url)
    from pymongo.errors import ConfigurationError  # present: _client checked

    try:
        try:
            db = client.get_default_database()
        except ConfigurationError:
            raise ConfigError(
                f"{dress_url(url)} names no database (Panko's URL: mongodb://HOST/NAME)"
            ) from None
        with _translated(f"reading {dress_url(url)}"):
            present = db.list_collection_names()
        if COLLECTION not in present:
            raise ConfigError(
                f"{dress_url(url)} has no Panko collection {COLLECTION!r} "
                f"(found: {', '.join(sorted(present)) or 'none'})"
            )
        yield PankoMongoReader(db[COLLECTION], where)
    finally:
        client.close()


def _ceil_ms(value: dt.datetime) -> dt.datetime:
    """``value`` rounded up to a whole millisecond (BSON would cut it down)."""
    cut = value.replace(microsecond=value.microsecond // 1000 * 1000)
    return cut if cut == value else cut + _MS


def selection(where: PankoFilter) -> dict[str, Any]:
    """The MongoDB query of ``where`` (bounds inclusive, exact to the microsecond).

    Stored times are whole milliseconds: ``t >= since`` holds exactly when
    ``t >= since`` rounded up does, and ``t <= until`` when ``t <= until``
    rounded down, which is what BSON makes of ``until`` by itself.
    """
    query: dict[str, Any] = {}
    bounds: dict[str, dt.datetime] = {}
    if where.since is not None:
        bounds["$gte"] = _ceil_ms(to_utc(where.since))
    if where.until is not None:
        bounds["$lte"] = to_utc(where.until)
    if bounds:
        query["timestamp"] = bounds
    if where.event_types:
        query["event_type"] = {"$in": list(where.event_types)}
    return query


@dataclass
class PankoMongoReader:
    """Pages of the events of Panko's ``event`` collection (see the module docstring)."""

    collection: Collection[dict[str, Any]]
    where: PankoFilter = field(default_factory=PankoFilter)
    action: str = "reading Panko's MongoDB database"

    def count(self) -> int:
        """How many events with a string id the filter selects."""
        with _translated(self.action):
            return self.collection.count_documents({**selection(self.where), "_id": {"$gte": ""}})

    def unpaged(self) -> dict[str, int]:
        """Selected documents :meth:`pages` cannot reach (id not a string), by reason."""
        query = {**selection(self.where), "_id": {"$not": {"$type": "string"}}}
        with _translated(self.action):
            count = self.collection.count_documents(query)
        return {UNPAGED: count} if count else {}

    @staticmethod
    def id_of(text: str) -> str:
        """The Panko id written as ``text`` (``--after-id``): the message id itself."""
        return text

    def pages(self, size: int, after: PankoId | None = None) -> Iterator[list[PankoEvent]]:
        """Events in pages of ``size``, by ``_id``, starting after id ``after``.

        ``""`` is the least string: the first page starts at it.
        """
        query = selection(self.where)
        while True:
            query["_id"] = {"$gte": ""} if after is None else {"$gt": str(after)}
            with _translated(self.action):
                cursor = self.collection.find(query, sort=[("_id", 1)], limit=size)
                documents = list(cursor.batch_size(size))
            if not documents:
                return
            yield [panko_event(document) for document in documents]
            after = documents[-1]["_id"]


def panko_event(document: Mapping[str, Any]) -> PankoEvent:
    """The :class:`PankoEvent` of one document (``problem`` set when it is not one)."""
    message_id = document["_id"]
    kind, generated, raw = (document.get(key) for key in ("event_type", "timestamp", "raw"))
    traits, problem = _traits(document.get("traits"))
    if kind is not None and not isinstance(kind, str):
        problem = f"event_type is {_kind(kind)}, not a string"
    elif generated is not None and not isinstance(generated, dt.datetime):
        problem = f"timestamp is {_kind(generated)}, not a date Python can hold"
    elif raw is not None and not isinstance(raw, dict):
        problem = f"raw is {_kind(raw)}, not an object"
    elif raw:
        try:  # what pipeline stores as raw is a JSON object
            json.dumps(raw)
        except (TypeError, ValueError) as err:
            problem = f"raw is not JSON: {err}"
    return PankoEvent(message_id, message_id, kind, generated, raw, traits, problem)


def _traits(value: Any) -> tuple[list[tuple[str, int, Any]], str | None]:
    """(name, dtype, value) of a document's ``traits``, or the problem with them.

    Reasons name types, never values: the summary groups refusals by reason.
    """
    if value is None:
        return [], None
    if not isinstance(value, list):
        return [], f"traits is {_kind(value)}, not a list"
    found = []
    for trait in value:
        if not isinstance(trait, dict) or "trait_name" not in trait:
            return [], f"a trait is {_kind(trait)} without trait_name"
        name, dtype, item = (trait.get(key) for key in _TRAIT_KEYS)
        if not isinstance(name, str):
            return [], f"a trait_name is {_kind(name)}, not a string"
        number = _type_id(dtype)
        if number is None:
            return [], f"trait {name!r} has trait_type {_kind(dtype)}, not a number"
        if isinstance(item, int) and not isinstance(item, bool):
            item = int(item)  # bson's Int64 is an int subclass: plain int, as elsewhere
        found.append((name, number, item))
    return found, None


def _type_id(value: Any) -> int | None:
    """``value`` as a trait type id: an integer (or a float holding one), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


def _kind(value: Any) -> str:
    """What ``value`` is, for a refusal reason: its type (``null`` for None)."""
    return "null" if value is None else type(value).__name__
