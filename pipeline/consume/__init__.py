"""``pipeline consume``: AMQP in, events and tickets out, nothing lost.

* :mod:`~pipeline.consume.topology` — exchanges and queues declared;
* :mod:`~pipeline.consume.batch` — decoding/converting a batch, per-message outcome;
* :mod:`~pipeline.consume.reasons` — why a message is dead-lettered, and its reason class;
* :mod:`~pipeline.consume.dead_letters` — publishing a dead letter with its reason;
* :mod:`~pipeline.consume.writer` — one storage write per batch, retried, on a storage thread;
* :mod:`~pipeline.consume.consumer` — the kombu loop, batching and acknowledgement;
* :mod:`~pipeline.consume.retry` — exponential back-off with jitter;
* :mod:`~pipeline.consume.stats` — counters and the periodic report (and the metrics they feed);
* :mod:`~pipeline.consume.accounting` — a batch's messages and outcome per queue;
* :mod:`~pipeline.consume.backlog` — queue depths by passive declare (metrics on);
* :mod:`~pipeline.consume.service` — one consumer process and its signals;
* :mod:`~pipeline.consume.workers` — N processes under a restarting parent.
"""
