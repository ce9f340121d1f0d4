"""A tiny web shop that logs its failures to pipeline, as a real application would.

Each function below is one call site: it logs through the standard
``logging`` module (logger ``demo.shop``) with a message that varies per
call (order numbers, amounts), sometimes with an exception. pipeline's
stdlib AMQP handler publishes the records onto the ``[ticketing] queue`` of
the demo's in-memory bus, and the consumer groups them into one ticket per
call site however their messages differ. :func:`run` calls the sites with
skewed frequencies, so the tickets have very different counts.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable

from oslo_config import cfg

from pipeline.amqp_logging import MessageQueueHandler

LOG = logging.getLogger("demo.shop")
#: Application id the shop's tickets are filed under.
APP_ID = "demo-shop"


class PaymentDeclined(Exception):
    """The card processor said no."""


def charge_card(order: int, rng: random.Random) -> None:
    """Card payments fail now and then."""
    try:
        raise PaymentDeclined(f"card ending {rng.randint(1000, 9999)} declined: insufficient funds")
    except PaymentDeclined:
        LOG.exception("payment for order %d failed", order)


def reserve_stock(order: int, rng: random.Random) -> None:
    """Running low on stock is worth a warning."""
    LOG.warning(
        "only %d units of SKU-%04d left after order %d",
        rng.randint(0, 3),
        rng.randint(1, 300),
        order,
    )


def render_invoice(order: int, rng: random.Random) -> None:
    """A discount of 100 % divides by zero: a real bug to find."""
    try:
        items = 0 if rng.random() < 0.5 else 1
        _average = rng.randint(10, 500) / items
    except ZeroDivisionError:
        LOG.exception("cannot render the invoice of order %d", order)
    else:
        LOG.error("invoice of order %d rendered without a tax line", order)


def send_receipt(order: int, rng: random.Random) -> None:
    """The mail relay times out."""
    LOG.error(
        "receipt for order %d not sent: SMTP relay timed out after %d s",
        order,
        rng.choice((10, 30, 60)),
    )


def resize_thumbnail(order: int, rng: random.Random) -> None:
    """Rare and serious."""
    LOG.critical("thumbnail worker killed: out of memory at %d MiB", rng.randint(900, 1100))


#: Call sites and how often each fires.
CALL_SITES: tuple[tuple[Callable[[int, random.Random], None], int], ...] = (
    (charge_card, 40),
    (reserve_stock, 30),
    (render_invoice, 15),
    (send_receipt, 10),
    (resize_thumbnail, 5),
)


class ReplayClock(logging.Filter):
    """Stamps records with a chosen time: the demo replays the last hour in seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.now: dt.datetime | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if self.now is not None:
            record.created = self.now.timestamp()
        return True


def run(url: str, conf: cfg.ConfigOpts, count: int, now: dt.datetime, seed: int = 0) -> int:
    """Fire ``count`` call sites over the hour before ``now``; return ``count``.

    Records travel through :class:`pipeline.amqp_logging.MessageQueueHandler`
    on the bus at ``url``, as any application's would. Sites are chosen with
    skewed weights, so the tickets get very different counts.
    """
    rng = random.Random(seed)
    step = dt.timedelta(hours=1) / max(count, 1)
    sites = [site for site, _ in CALL_SITES]
    weights = [weight for _, weight in CALL_SITES]
    handler = MessageQueueHandler(url, queue=conf.ticketing.queue, app_id=APP_ID)
    clock = ReplayClock()
    handler.addFilter(clock)
    LOG.addHandler(handler)
    # The records are for the bus, not for the terminal of the person watching.
    propagate, LOG.propagate = LOG.propagate, False
    try:
        for order in range(count):
            clock.now = now - step * (count - 1 - order)
            rng.choices(sites, weights)[0](10000 + order, rng)
    finally:
        LOG.removeHandler(handler)
        LOG.propagate = propagate
        handler.close()
    return count
