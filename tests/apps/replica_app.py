"""One replica of a small agent service, for the many-replicas tests: ``replica_app.py``.

Each line on stdin, ``N SECONDS``, runs N requests one after another: the agent ``Answerer`` looks the
question up (a tool that takes SECONDS: a planted slowdown when larger) and asks the model through the real
``openai.OpenAI`` (``OPENAI_BASE_URL``: the local server), then prints ``done N``. It serves its metrics
while it lives (``OTEL_METRICS_EXPORTER=prometheus``) and exits when stdin closes.
"""

from __future__ import annotations

import sys
import time

import openai

import otel_agentperf as perf


@perf.tool
def lookup(question: str, seconds: float) -> str:
    time.sleep(seconds)
    return f"notes on {question}"


@perf.agent(name="Answerer")
def answer(client: openai.OpenAI, question: str, seconds: float) -> str:
    notes = lookup(question, seconds)
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": notes}])
    return str(reply.choices[0].message.content)


def main() -> None:
    client = openai.OpenAI(api_key="local", max_retries=0)
    print("ready", flush=True)
    for line in sys.stdin:
        count, seconds = line.split()
        for index in range(int(count)):
            answer(client, f"question {index}", float(seconds))
        print(f"done {count}", flush=True)


if __name__ == "__main__":
    main()
