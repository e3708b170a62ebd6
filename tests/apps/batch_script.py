"""A nightly batch script with no agent: ``batch_script.py OUT``. It fetches three documents at once (the
slowest decides when it goes on), summarises each through the real ``openai.AsyncOpenAI``
(``OPENAI_BASE_URL``: the local server) one after another, and parses each summary with a synchronous tool.
Its only request is the process itself; it writes the seconds from its first operation's start to its last
one's end, as it measured them, to OUT (JSON).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import openai

import otel_agentperf as perf


@perf.tool
async def fetch_document(number: int) -> str:
    await asyncio.sleep(0.04 * (number + 1))
    return f"document {number}"


@perf.tool
def parse_summary(summary: str) -> int:
    time.sleep(0.015)
    return len(summary)


async def main(out: str) -> None:
    client = openai.AsyncOpenAI(api_key="local")
    began = time.perf_counter()
    for _ in range(2):
        documents = await asyncio.gather(*(fetch_document(number) for number in range(3)))
        for document in documents:
            answer = await client.chat.completions.create(
                model="fast-summariser", messages=[{"role": "user", "content": f"Summarise {document}"}]
            )
            parse_summary(answer.choices[0].message.content or "")
    ended = time.perf_counter()
    with open(out, "w", encoding="utf-8") as measured:
        json.dump({"seconds": ended - began}, measured)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
