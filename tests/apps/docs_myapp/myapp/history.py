"""An in-memory history of runs, looked up by id with a scan, as hand-written stores are."""

from __future__ import annotations

from typing import Any


class HistoryManager:
    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def append(self, run: dict[str, Any]) -> str:
        run_id = f"run-{len(self.runs)}"
        self.runs.append({"id": run_id, **run})
        return run_id

    def get_execution_by_id(self, run_id: str) -> dict[str, Any] | None:
        return next((run for run in self.runs if run["id"] == run_id), None)

    def runs_matching(self, text: str) -> list[dict[str, Any]]:
        """A search whose name has no verb otel-agentperf knows: the README's target states it."""
        return [run for run in self.runs if text in str(run.get("text", ""))]
