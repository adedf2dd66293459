"""Seed 001's Python test client ("Test with Python"), unchanged but for where
it connects and what it asks: `python buddy_test_client.py URI [QUESTION]`.

It uses the `websockets` package, sends the seed's messages, reads the first
message after each one, and prints it as the seed does.
"""

import asyncio
import json
import sys

import websockets


async def test_websocket(uri, question):
    async with websockets.connect(uri) as websocket:
        # Initialize session
        await websocket.send(json.dumps({
            "action": "initSession",
            "patientId": "pt-001"
        }))

        response = await websocket.recv()
        print(f"Init response: {response}")

        # Send text
        await websocket.send(json.dumps({
            "action": "textInput",
            "text": question
        }))

        response = await websocket.recv()
        print(f"Response: {response}")


if __name__ == "__main__":
    question = sys.argv[2] if len(sys.argv) > 2 else "What do I do this morning?"
    asyncio.run(test_websocket(sys.argv[1], question))
