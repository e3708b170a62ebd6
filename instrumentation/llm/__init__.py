"""Model SDKs (OpenAI, Anthropic): one LLM operation per call, streams followed to their end."""
