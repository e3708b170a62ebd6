"""The Python runtime itself: asyncio event loops, watched for blocking by the loop monitor."""
