"""Agent frameworks (LangChain, LangGraph, OpenAI Agents SDK, DSPy): agents, tools and workflows as operations."""
