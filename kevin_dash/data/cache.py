"""A small keyed cache for reads that cost seconds at a channel's scale and change rarely.

The key is what the value is computed from (the newest mention id and bar date, a run id), so a
stale value is never served: new data means a new key, and the oldest key falls out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class KeyedCache:
    """The last `size` values by key (least recently used out first). One lock: two requests
    missing the same key compute it once rather than race."""

    size: int = 8
    _values: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    computed: int = 0  # how many times it computed (the tests read it)

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            value = compute()
            self.computed += 1
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
            return value
