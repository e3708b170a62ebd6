"""One help-desk request, start to end: route the question, answer it, file the ticket."""

from __future__ import annotations

from helpdesk_bot.agents import Answerer, Router
from helpdesk_bot.tools import format_ticket


async def answer_question(router: Router, answerer: Answerer, question: str) -> str:
    team = await router.route(question)
    return format_ticket(question, await answerer.answer(question, team))
