"""An app for the host-safety tests, run under the real launcher: ``python hostile_app.py CASE [ARGS]``.

- ``pool METHOD fork|spawn``: ``square`` over six items in a ``multiprocessing.Pool`` (METHOD ``pool``) or a
  ``ProcessPoolExecutor`` (METHOD ``executor``), started by fork or spawn.
- ``words``: counts words with ``re.compile`` and ``len`` (both may be targets).
- ``sigterm N [own]``: N tool calls, then ``ready`` and a wait for SIGTERM (``own``: the app's own handler).
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from hostile_tasks import square, words


def main() -> None:
    case = sys.argv[1]
    if case == "pool":
        context = multiprocessing.get_context(sys.argv[3])
        if sys.argv[2] == "pool":
            with context.Pool(2) as pool:
                print(sum(pool.map(square, range(6))), flush=True)
        else:
            with ProcessPoolExecutor(2, mp_context=context) as executor:
                print(sum(executor.map(square, range(6))), flush=True)
    elif case == "words":
        print(words("a hostile user calls len"), flush=True)
    elif case == "sigterm":
        if sys.argv[3:] == ["own"]:
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(3))
        for item in range(int(sys.argv[2])):
            square(item)
        print("ready", flush=True)
        time.sleep(60)


if __name__ == "__main__":
    main()
