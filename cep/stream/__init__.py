"""The event-time stream core: timestamps, watermarks, reordering and the keyed driver.

Nothing here knows about patterns; the NFA plugs in as a :class:`KeyedProcessor`.
"""

from cep.stream.driver import (
    SNAPSHOT_FORMAT,
    SNAPSHOT_VERSION,
    EventTimeDriver,
    KeyedProcessor,
    TimerContext,
    decode_key,
    encode_key,
)
from cep.stream.reorder import ReorderBuffer
from cep.stream.timestamps import format_timestamp_iso, make_time_getter, parse_timestamp
from cep.stream.watermarks import (
    END_OF_TIME,
    MIN_WATERMARK,
    BoundedOutOfOrderness,
    WatermarkTracker,
)

__all__ = [
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_VERSION",
    "EventTimeDriver",
    "KeyedProcessor",
    "TimerContext",
    "decode_key",
    "encode_key",
    "ReorderBuffer",
    "format_timestamp_iso",
    "make_time_getter",
    "parse_timestamp",
    "END_OF_TIME",
    "MIN_WATERMARK",
    "BoundedOutOfOrderness",
    "WatermarkTracker",
]
