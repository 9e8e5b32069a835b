"""CI: sign-in and consent in a real browser (Debian's headless Chromium,
driven by Selenium, both pinned in .ci/run) against the sandbox.

Registers a client (RFC 7591), opens /oauth/authorize with PKCE, picks
Alice on the simulator's stand-in for Atlassian's sign-in, checks the
consent page (client, redirect, Jira site, "in your name"), saves a
screenshot of it, clicks Allow, takes the code from a local listener,
redeems it and files an issue over /mcp with the token: the audit trail
must name Alice as reporter. Then Sam denies: an error page, the client
learns `access_denied`, no grant and no issue. Exits non-zero on any
failure.

Usage: signin_browser.py BASE_URL JIRA_ACTION_BINARY STORE SCREENSHOT.png
"""

import asyncio
import queue
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from signin_checks import Checks, Sandbox, pkce

CLIENT_NAME = "Example Assistant"
# The simulator's demo people (crates/jira-sim/src/demo.rs).
ALICE = ("712020:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "Alice Anders", "alice@example.com")
SAM = ("63a1f0c2e4b5d6f7a8b9c0d1", "Sam Smith", "sam@example.com")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=900,760",
]


class Callback:
    """The client's redirect URI: a local listener that hands over the
    query each redirect brings, as a native app's would."""

    def __init__(self):
        arrivals = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                # Not the browser's own asks (its favicon).
                url = urlsplit(self.path)
                if url.path == "/callback":
                    arrivals.put(parse_qs(url.query))
                body = b"<!doctype html><title>Back in the client</title><p>You may close this window.</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.arrivals = arrivals
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self):
        """The next redirect's query parameters (one value each)."""
        query = self.arrivals.get(timeout=30)
        return {name: values[0] for name, values in query.items()}


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def arrived(checks, driver, title, name):
    """Whether the page titled `title` loaded: a click's navigation may
    still be on its way when click() returns."""
    try:
        WebDriverWait(driver, 15).until(lambda d: d.title.startswith(title))
    except TimeoutException:
        pass
    return checks.check(name, driver.title.startswith(title), f"on {driver.current_url!r}, {driver.title!r}")


def sign_in_upstream(checks, driver, authorize_url, person):
    """Opens the authorization and picks `person` on the simulator's
    sign-in page; returns the simulator's origin (the Jira site)."""
    driver.get(authorize_url)
    arrived(checks, driver, "Log in to continue", "/oauth/authorize leads to the sign-in page")
    site = "{0.scheme}://{0.netloc}".format(urlsplit(driver.current_url))
    driver.find_element(By.CSS_SELECTOR, f"input[name=account_id][value='{person[0]}']").click()
    driver.find_element(By.CSS_SELECTOR, "button[value=accept]").click()
    return site


def authorize_url(base, client_id, redirect_uri, state, challenge):
    return f"{base}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
        "resource": f"{base}/mcp",
    })


async def file_issue(base, token):
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
            return await client.call_tool("create_issue", {
                "pid": "DEMO", "issuetype": "Task", "summary": "Filed after signing in in Chromium"})


def allowed(checks, sandbox, driver, base, callback, client_id, screenshot):
    verifier, challenge = pkce()
    url = authorize_url(base, client_id, callback.uri, "allow-state", challenge)
    site = sign_in_upstream(checks, driver, url, ALICE)

    arrived(checks, driver, "Allow access to Jira", "the consent page")
    heading = driver.find_element(By.TAG_NAME, "h1").text
    checks.check("it names the client", CLIENT_NAME in heading, heading)
    text = driver.find_element(By.TAG_NAME, "body").text
    checks.check("it names the person", f"{ALICE[1]} ({ALICE[2]})" in text, text)
    checks.check("it names the redirect", callback.uri in text, text)
    checks.check("it names the Jira site", site in text, f"{site} not in {text}")
    checks.check('it says "in your name"', "in your name" in text, text)
    driver.save_screenshot(screenshot)
    with open(screenshot, "rb") as png:
        head = png.read(8)
    checks.check(f"a screenshot in {screenshot}", head == b"\x89PNG\r\n\x1a\n", head)

    driver.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
    back = callback.next()
    checks.check("Allow sends the browser back with a code", back.get("code") and
                 back.get("state") == "allow-state" and back.get("iss") == base, back)
    if arrived(checks, driver, "Back in the client", "the browser ended on the client's page"):
        checks.check("at the redirect URI", driver.current_url.startswith(callback.uri),
                     driver.current_url)

    answer = httpx2.post(f"{base}/oauth/token", data={
        "grant_type": "authorization_code", "code": back.get("code", ""),
        "redirect_uri": callback.uri, "client_id": client_id, "code_verifier": verifier,
        "resource": f"{base}/mcp"})
    token = answer.json().get("access_token", "") if answer.status_code == 200 else ""
    checks.check("the code is redeemed for a token", token.startswith("jat_"), answer.text)

    created = asyncio.run(file_issue(base, token))
    key = (created.structured_content or {}).get("key")
    checks.check("create_issue with the token", not created.is_error and key, created)
    sandbox.check_filed_by(checks, key, ALICE[2], ALICE[0], client_id)


def denied(checks, sandbox, driver, base, callback, client_id):
    _, challenge = pkce()
    url = authorize_url(base, client_id, callback.uri, "deny-state", challenge)
    sign_in_upstream(checks, driver, url, SAM)
    arrived(checks, driver, "Allow access to Jira", "the consent page")
    driver.find_element(By.CSS_SELECTOR, "button[value=deny]").click()
    arrived(checks, driver, "Access denied", "Deny shows a page that says so")
    checks.check("no redirect before the person follows the link", callback.arrivals.empty(),
                 "the client was called")
    driver.find_element(By.LINK_TEXT, f"Return to {CLIENT_NAME}").click()
    back = callback.next()
    checks.check("the client learns access_denied, with its state",
                 back.get("error") == "access_denied" and back.get("state") == "deny-state"
                 and "code" not in back, back)
    checks.check("no grant for the person who denied",
                 not any(SAM[2] in line for line in sandbox.grants()), sandbox.grants())
    checks.check("nothing filed in their name", sandbox.audit(SAM[2]) == [], sandbox.audit(SAM[2]))


def main():
    base, binary, store, screenshot = sys.argv[1:5]
    base = base.rstrip("/")
    checks = Checks()
    sandbox = Sandbox(binary, store)
    callback = Callback()
    registered = httpx2.post(f"{base}/oauth/register", json={
        "client_name": CLIENT_NAME, "redirect_uris": [callback.uri]})
    client_id = registered.json().get("client_id", "") if registered.status_code == 201 else ""
    checks.check("dynamic client registration", client_id, registered.text)

    with tempfile.TemporaryDirectory() as profile:
        driver = browser(profile)
        try:
            allowed(checks, sandbox, driver, base, callback, client_id, screenshot)
            denied(checks, sandbox, driver, base, callback, client_id)
        finally:
            driver.quit()
            callback.server.shutdown()
    checks.finish()


main()
