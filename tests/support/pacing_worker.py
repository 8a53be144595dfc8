"""One process of the cross-process pacing test: waits until a common start moment, then asks Dhan (the emulator)
for `n` quotes on one client, paced in the database (shared) or in this process (local), with no retry, so a 429
fails the process (exit status 3).

    python pacing_worker.py BASE_URL CLIENT_ID TOKEN DATABASE_URL shared|local N START_EPOCH_SECONDS
"""

import sys
import time
from functools import partial

from optionsv4_lib.adapters.dhan.client import DhanClient
from optionsv4_lib.adapters.pacing import RetryPolicy
from optionsv4_lib.core.errors import RateLimited
from optionsv4_lib.store.db import connect


def main(base_url: str, client_id: str, token: str, database_url: str, pacing: str, n: str, start: str) -> int:
    shared = partial(connect, database_url) if pacing == "shared" else None
    client = DhanClient(client_id, token, base_url=base_url, retry=RetryPolicy(attempts=1), shared_pacing=shared)
    time.sleep(max(0.0, float(start) - time.time()))
    try:
        for _ in range(int(n)):
            client.quotes({"IDX_I": [13]})
    except RateLimited as exc:
        print(exc, file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
