"""pipeline: notifications become typed events, log records become tickets.

The package is organised by stage of the data flow: ``consume`` (AMQP in),
``convert`` (pure converters), ``storage`` (drivers) and the read side
(``cli``, ``api``). See README.rst for the map.
"""

__version__ = "0.1.0"
