"""RSS growth per idle socket of a fresh gridline process (log-ins and tickets go to another
process) vs a fresh bare `websockets` server, Scale.memory_sockets sockets each, measured side
by side (RSS is per process)."""

from __future__ import annotations

import asyncio
from typing import Any

from harness.processes import PYTHON, Process, Server, free_port

from .common import say
from .meters import rss_kib
from .stacks import Ctx, _wait_port


async def memory(ctx: Ctx, fresh: Server, login_base: str) -> dict[str, float]:
    m = min(ctx.scale.memory_sockets, len(ctx.world["idle"]) - 10)
    say(f"memory: RSS growth per idle socket, {m} sockets on a fresh process each")
    await ctx.ready(fresh)
    port = free_port()
    bare = ctx.procs.start("mem-bare", [PYTHON, "-m", "bench.floor_ws", "--port", str(port)])
    await asyncio.to_thread(_wait_port, port, bare)
    bare_base = f"http://127.0.0.1:{port}"
    items = ctx.world["idle"][: m + 10]

    async def measure(
        name: str, server: Process, mode: str, base: str, ws_base: str | None, items: list[Any]
    ) -> float:
        warm = await ctx.holders(f"{name}-warm", mode, [(base, ws_base, items[:10])])
        await asyncio.sleep(ctx.scale.settle)
        before = rss_kib(server.pid)
        holders = await ctx.holders(f"{name}-hold", mode, [(base, ws_base, items[10 : 10 + m])])
        await asyncio.sleep(ctx.scale.settle)
        after = rss_kib(server.pid)
        connected = ctx.totals(holders)["connected"]
        for holder in [*holders, *warm]:
            ctx.procs.stop(holder)
        per = (after - before) / max(1, connected)
        say(f"memory {name}: {before} -> {after} KiB, {connected} sockets: {per:.1f} each")
        return per

    django, floor = await asyncio.gather(
        measure("mem-django", fresh, "django", login_base, fresh.url, items),
        measure("mem-bare", bare, "floor", bare_base, None, list(range(m + 10))),
    )
    ctx.procs.stop(bare)
    await asyncio.to_thread(ctx.procs.stop, fresh)
    return {"django": django, "floor": floor}
