"""Tool protocols: the MCP SDK."""
