"""The chaos run on every seed and both stores, with its figures.

Each run (`issuepilot.testing.chaos`) drives six task lifecycles to their end while every
GitHub call fails at a 0.2 rate (half answered 502 unserved, half served with the reply
lost), a fifth of the runs die at one of their first ten requests (before or after GitHub
carried it out), the store is wiped once (the repository's Redis keys, or the ledger's
branch), one merge's event never arrives, and time passes so that dead steps' leases
lapse; then the sweep runs until a round of it changes nothing. Printed per seed and
store: the tasks, the workflow runs (steps) and how many died, the sweeps, the faults
injected, the seconds, and the invariants broken (target: none, every task DONE).

    python benchmarks/chaos.py [--seeds 21 22 23 24] [--stores redis ledger] [--redis-url URL]
"""

import argparse
import asyncio
import sys

from issuepilot.testing.chaos import Chaos
from issuepilot.testing.redis_server import ThrowawayRedis


async def main(seeds: list[int], stores: list[str], redis_url: str) -> int:
    print(f"{'seed':>4} {'store':<7} {'tasks':>5} {'steps':>5} {'killed':>6} {'sweeps':>6}", end="")
    print(f" {'faults':>6} {'seconds':>7}  broken")
    failed = 0
    for seed in seeds:
        for store in stores:
            chaos = Chaos(seed, store, redis_url=redis_url)
            try:
                f = await chaos.play()
                broken = await chaos.violations()
            finally:
                await chaos.aclose()
            failed += bool(broken)
            row = f"{seed:>4} {store:<7} {f.tasks:>5} {f.runs:>5} {f.killed:>6} {f.sweeps:>6}"
            print(f"{row} {f.faults:>6} {f.seconds:>7.2f}  {len(broken)}")
            for line in broken:
                print(f"      {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[21, 22, 23, 24])
    parser.add_argument("--stores", nargs="+", default=["redis", "ledger"])
    parser.add_argument("--redis-url", help="default: a throwaway server of its own")
    args = parser.parse_args()
    if args.redis_url:
        sys.exit(asyncio.run(main(args.seeds, args.stores, args.redis_url)))
    with ThrowawayRedis() as server:
        code = asyncio.run(main(args.seeds, args.stores, server.url))
    sys.exit(code)
