#!/usr/bin/env python3
"""TCP resource for flow tests: sends a greeting and closes.  greeter.py IP PORT"""
import asyncio
import sys


async def serve(r, w):
    w.write(b"hello from the resource\n")
    await w.drain()
    w.close()


async def main():
    srv = await asyncio.start_server(serve, sys.argv[1], int(sys.argv[2]), backlog=1024)
    async with srv:
        await srv.serve_forever()


asyncio.run(main())
