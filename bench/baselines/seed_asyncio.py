"""The seed's own design, as a baseline: asyncio + anthropic.AsyncAnthropic (max_retries=0),
asyncio.gather over every task, an asyncio.Semaphore(k) and a simple requests-per-minute limiter.
No durability.

    python seed_asyncio.py N K BASE_URL [--rpm R] [--max-tokens M] [--no-warmup]

prints one line of JSON: {"wallMs": ..., "n": ..., "k": ..., "ok": ..., "failed": ...}.
The prompts are the same strings the TypeScript runners send (bench/lib/tasks.ts).
"""
import argparse
import asyncio
import json
import time

from anthropic import AsyncAnthropic

MODEL = "claude-sonnet-4-6"


def prompt(i: int, n: int) -> str:
    return f"Bench task {i} of {n}: summarise item {i} in one line."


class RpmLimiter:
    """Spaces request starts at least 60 / rpm seconds apart (no bursts)."""

    def __init__(self, rpm: float) -> None:
        self.interval = 60.0 / rpm if rpm > 0 else 0.0
        self.next = 0.0
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            now = time.monotonic()
            at = max(now, self.next)
            self.next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("n", type=int)
    p.add_argument("k", type=int)
    p.add_argument("base_url")
    p.add_argument("--rpm", type=float, default=0)
    p.add_argument("--max-tokens", type=int, default=1024)
    p.add_argument("--no-warmup", action="store_true")
    a = p.parse_args()

    client = AsyncAnthropic(api_key="bench-key", base_url=a.base_url, max_retries=0)
    sem = asyncio.Semaphore(a.k)
    limiter = RpmLimiter(a.rpm)

    async def call(text: str):
        return await client.messages.create(model=MODEL, max_tokens=a.max_tokens, messages=[{"role": "user", "content": text}])

    async def one(i: int):
        async with sem:
            await limiter.acquire()
            return await call(prompt(i, a.n))

    if not a.no_warmup:
        await call("[warmup] python baseline")
    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(i + 1) for i in range(a.n)), return_exceptions=True)
    wall_ms = round((time.perf_counter() - t0) * 1000)
    errors = [r for r in results if isinstance(r, BaseException)]
    out = {"wallMs": wall_ms, "n": a.n, "k": a.k, "ok": a.n - len(errors), "failed": len(errors)}
    if errors:
        out["firstError"] = f"{type(errors[0]).__name__}: {errors[0]}"
    await client.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
