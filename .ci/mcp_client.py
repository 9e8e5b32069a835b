"""CI: the official MCP Python SDK (pinned in .ci/run) against the sandbox.

Connects twice, once with the initialize handshake ("legacy", 2025-11-25)
and once the stateless way ("auto": server/discover, 2026-07-28); each time
lists the tools, describes a project and creates an issue, then repeats
the create and checks that the repeat names the same issue. Exits non-zero
on any failure. Usage: mcp_client.py URL API_KEY
"""

import asyncio
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


async def session(url, key, mode, summary):
    headers = {"Authorization": f"Bearer {key}", "Glean-User-Email": "alice@example.com"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = await client.list_tools()
            names = sorted(tool.name for tool in tools.tools)
            if names != ["create_issue", "describe_project"]:
                fail(f"{mode}: tools {names}")
            described = await client.call_tool("describe_project", {"project": "DEMO"})
            if described.is_error or described.structured_content["key"] != "DEMO":
                fail(f"{mode}: describe_project answered {described}")
            arguments = {"pid": "DEMO", "issuetype": "Task", "summary": summary,
                         "description": "Filed by the **Python** SDK."}
            created = await client.call_tool("create_issue", arguments)
            if created.is_error:
                fail(f"{mode}: create_issue refused: {created}")
            key = created.structured_content["key"]
            again = await client.call_tool("create_issue", arguments)
            if again.structured_content.get("key") != key:
                fail(f"{mode}: the repeat named {again.structured_content}, not {key}")
            refused = await client.call_tool("create_issue", {"pid": "NOPE", "issuetype": "Task", "summary": "x"})
            if not refused.is_error or refused.structured_content.get("error") != "project_not_found":
                fail(f"{mode}: expected project_not_found, got {refused}")
            print(f"{mode}: {len(names)} tools, created {key} once, refusal as isError: ok")


async def main():
    url, key = sys.argv[1], sys.argv[2]
    await session(url, key, "legacy", "Filed over MCP, handshake")
    await session(url, key, "auto", "Filed over MCP, stateless")
    print("2 passed, 0 failed")


asyncio.run(main())
