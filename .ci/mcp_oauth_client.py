"""CI: the official MCP Python SDK (pinned in .ci/run) as an OAuth client
of the sandbox's /mcp, with no API key.

The SDK's OAuthClientProvider does the client's part: discovery from the
401 (protected-resource and authorization-server metadata), dynamic
registration, PKCE, the token, and a refresh when the token has expired.
This script is the person's browser, over plain HTTP: it follows the
redirects, picks Bob on the simulator's sign-in form and allows on the
consent page (posting its CSRF token back with the cookie). Then: the
tools, an issue filed, the repeat naming the same issue, and after the
token's expiry a refresh (no second sign-in) and the same issue again.
The audit trail must name Bob as reporter. Exits non-zero on any failure.

Usage: mcp_oauth_client.py BASE_URL JIRA_ACTION_BINARY STORE
"""

import asyncio
import sys
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

from signin_checks import Checks, Sandbox

# The simulator's demo person who signs in (crates/jira-sim/src/demo.rs).
BOB = ("5b10ac8d82e05b22cc7d4ef5", "Bob Brown", "bob@example.com")
CLIENT_NAME = "Python SDK check"
# Nothing listens there: the script reads the code from the redirect.
REDIRECT_URI = "http://127.0.0.1:9/callback"


class MemoryStorage(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


class Form(HTMLParser):
    """The first form of a page: its action and the fields a browser
    would send (hidden inputs and the checked radio of each group)."""

    def __init__(self, html):
        super().__init__()
        self.action = None
        self.fields = {}
        self.radios = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action", "")
        elif tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs.get("value", "")
        elif tag == "input" and attrs.get("type") == "radio":
            self.radios.setdefault(attrs["name"], []).append(attrs.get("value"))


class Person:
    """The person at the browser: the SDK hands over the authorization
    URL, and waits for the redirect back to the client."""

    def __init__(self, checks, account_id):
        self.checks = checks
        self.account_id = account_id
        self.url = None
        self.sign_ins = 0

    async def open(self, url):
        self.url = url

    async def come_back(self):
        self.sign_ins += 1
        check = self.checks.check
        async with httpx2.AsyncClient(timeout=30, follow_redirects=True) as browser:
            page = await browser.get(self.url)
            sign_in = Form(page.text)
            check("the authorization leads to the sign-in form",
                  self.account_id in sign_in.radios.get("account_id", []), page.text)
            fields = {**sign_in.fields, "account_id": self.account_id, "decision": "accept"}
            page = await browser.post(urljoin(str(page.url), sign_in.action), data=fields)
            consent = Form(page.text)
            check("the consent page names the client and the person",
                  CLIENT_NAME in page.text and BOB[1] in page.text and "csrf" in consent.fields,
                  page.text)
            fields = {**consent.fields, "decision": "allow"}
            back = await browser.post(urljoin(str(page.url), consent.action), data=fields,
                                      follow_redirects=False)
        location = back.headers.get("location", "")
        check("Allow sends the browser back to the client",
              back.is_redirect and location.startswith(REDIRECT_URI), f"{back.status_code} {location}")
        query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
        return AuthorizationCodeResult(code=query.get("code", ""), state=query.get("state"),
                                       iss=query.get("iss"))


async def tools_and_issue(url, provider):
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            tools = await client.list_tools()
            arguments = {"pid": "DEMO", "issuetype": "Task",
                         "summary": "Filed by the Python SDK after signing in"}
            created = await client.call_tool("create_issue", arguments)
            again = await client.call_tool("create_issue", arguments)
            return sorted(tool.name for tool in tools.tools), created, again


def key_of(result):
    return None if result.is_error else (result.structured_content or {}).get("key")


async def main():
    base, binary, store = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    url = f"{base}/mcp"
    checks = Checks()
    check = checks.check
    storage = MemoryStorage()
    person = Person(checks, BOB[0])
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name=CLIENT_NAME, redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"], token_endpoint_auth_method="none"),
        storage=storage, redirect_handler=person.open, callback_handler=person.come_back)

    names, created, again = await tools_and_issue(url, provider)
    resource = provider.context.protected_resource_metadata
    check("discovery from the 401: the protected resource is /mcp",
          resource is not None and str(resource.resource) == url, resource)
    metadata = provider.context.oauth_metadata
    check("then the authorization server's metadata",
          metadata is not None and str(metadata.issuer).rstrip("/") == base, metadata)
    client_id = storage.client_info.client_id if storage.client_info else ""
    check("dynamic client registration", client_id.startswith("jacl_"), storage.client_info)
    check("one sign-in", person.sign_ins == 1, person.sign_ins)
    tokens = storage.tokens
    check("a token and a refresh token", tokens and tokens.access_token.startswith("jat_")
          and (tokens.refresh_token or "").startswith("jrt_"), tokens)
    check("the tools", names == ["create_issue", "describe_project"], names)
    key = key_of(created)
    check("create_issue", key, created)
    check("the repeat names the same issue", key_of(again) == key, again)
    Sandbox(binary, store).check_filed_by(checks, key, BOB[2], BOB[0], client_id)

    # The token's end, as the SDK would see it an hour later: it refreshes
    # before the next call, without a second sign-in.
    first = tokens
    provider.context.token_expiry_time = time.time() - 1
    _, later, _ = await tools_and_issue(url, provider)
    check("refreshed: a new access token and a rotated refresh token",
          storage.tokens.access_token != first.access_token
          and storage.tokens.refresh_token != first.refresh_token, storage.tokens)
    check("no second sign-in", person.sign_ins == 1, person.sign_ins)
    check("after the refresh, the same issue", key_of(later) == key, later)
    checks.finish()


asyncio.run(main())
