"""``pipeline consume``: AMQP in, events and tickets out, nothing lost.

* :mod:`~pipeline.consume.topology` — exchanges and queues declared;
* :mod:`~pipeline.consume.batch` — decoding/converting a batch, per-message outcome;
* :mod:`~pipeline.consume.writer` — one storage write per batch, retried, on a storage thread;
* :mod:`~pipeline.consume.consumer` — the kombu loop, batching and acknowledgement;
* :mod:`~pipeline.consume.retry` — exponential back-off with jitter;
* :mod:`~pipeline.consume.stats` — counters and the periodic report;
* :mod:`~pipeline.consume.service` — one consumer process and its signals;
* :mod:`~pipeline.consume.workers` — N processes under a restarting parent.
"""
