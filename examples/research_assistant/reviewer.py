"""The review step, built on LangGraph: a ReAct fact-checking agent checks each round's answers.

Nothing here mentions telemetry: otel-agentperf's LangGraph, LangChain and OpenAI SDK instrumentors
record the graph run, the agent, its tool calls and the model calls it makes through ChatOpenAI.
"""

from __future__ import annotations

import warnings
from typing import Any

import openai
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import create_react_agent


@tool
def check_claim(claim: str) -> str:
    """Check one claim against the research notes."""
    return "supported" if claim else "unsupported"


@tool
def count_sources(topic: str) -> int:
    """Count the notes that mention a topic."""
    return len(topic.split())


def review_graph(model: str) -> Any:
    """The review workflow; built per run because each run has its own event loop (and HTTP client)."""
    chat = ChatOpenAI(model=model, max_retries=0, http_async_client=openai.DefaultAsyncHttpxClient())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent moved to the `langchain` package, not used here
        checker = create_react_agent(chat, [check_claim, count_sources], name="fact_checker")
    builder = StateGraph(MessagesState)
    builder.add_node("check", checker)
    builder.add_edge(START, "check")
    builder.add_edge("check", END)
    return builder.compile(name="review")


async def review(model: str, answers: list[dict[str, Any]]) -> str:
    summary = "; ".join(str(answer["summary"]) for answer in answers)
    result = await review_graph(model).ainvoke({"messages": [HumanMessage(f"check: {summary}")]})
    return str(result["messages"][-1].content)
