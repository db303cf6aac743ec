"""The AWS emulator the test suite runs: moto's server, with its DynamoDB
backend made safe for writes side by side.

moto keeps a table in plain dictionaries and, for a transaction, deep-copies
the table once per item (to restore it on a cancellation). Two writes to
one table at once then fail with a 500 ("dictionary changed size during
iteration"), and a transaction of six items costs six copies of a table
whose stream keeps every change. The platform writes side by side (a
batch of the insights worker is committed concurrently), so here:

- writes to the DynamoDB backend take one lock, one at a time, as
  DynamoDB's own serialisation would order them;
- within a transaction, a table is copied once, however many of its items
  the transaction names.

Arguments are moto_server's (`-H 127.0.0.1 -p 5000`).
"""

import copy
import functools
import sys
import threading

from moto.dynamodb import models
from moto.server import main

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()
_copies = threading.local()


class _CopyOncePerTransaction:
    """Stands in for the `copy` module inside moto's DynamoDB models: a
    deep copy asked for twice in one transaction gives the first one."""

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, value, memo=None):
        made = getattr(_copies, "made", None)
        if made is None or memo is not None:
            return copy.deepcopy(value, memo)
        if id(value) not in made:
            made[id(value)] = (value, copy.deepcopy(value))
        return made[id(value)][1]


def _serialised(write):
    @functools.wraps(write)
    def locked(*args, **kwargs):
        with _lock:
            transaction = write.__name__ == "transact_write_items"
            if transaction:
                _copies.made = {}
            try:
                return write(*args, **kwargs)
            finally:
                if transaction:
                    _copies.made = None

    return locked


models.copy = _CopyOncePerTransaction()
for name in WRITES:
    setattr(models.DynamoDBBackend, name, _serialised(getattr(models.DynamoDBBackend, name)))

if __name__ == "__main__":
    main(sys.argv[1:])
