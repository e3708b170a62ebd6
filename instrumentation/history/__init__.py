"""History stores (LangChain chat histories, LangGraph checkpointers): reads, writes and their size."""
