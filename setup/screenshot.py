#!/usr/bin/env python3
"""Screenshots of a running Odoo for the README, through headless Chromium (DevTools protocol).

    python3 setup/demo.py &                       # serves the demo on 127.0.0.1:8069
    python3 setup/screenshot.py "/odoo/action-rebilling_base.action_rebilling_billing_run" \
        docs/billing_run.png

Logs in as admin/admin (``--login harbour`` for the demo's portal user), opens the
path, waits for the page to settle and saves a PNG. With ``--pdf-page N`` the path is a
PDF (a report URL): page N is saved as a PNG (poppler's pdftoppm).
"""

import argparse
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            time.sleep(0.3)
        raise TimeoutError(expression)


def save_pdf_page(page, url, number, output):
    """Download ``url`` with the browser's session and save page ``number`` as a PNG."""
    cookies = page.call("Network.getCookies", urls=[url])["cookies"]
    header = "; ".join(f"{c['name']}={c['value']}" for c in cookies)
    request = urllib.request.Request(url, headers={"Cookie": header})
    with urllib.request.urlopen(request, timeout=300) as response:
        content = response.read()
    if not content.startswith(b"%PDF"):
        raise SystemExit(f"{url} did not answer a PDF")
    stem = output[:-4] if output.endswith(".png") else output
    subprocess.run(
        ["pdftoppm", "-png", "-r", "100", "-f", str(number), "-l", str(number)]
        + ["-singlefile", "-", stem],
        input=content,
        check=True,
    )
    print(f"saved {stem}.png (page {number} of the PDF)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("output")
    parser.add_argument("--base", default="http://127.0.0.1:8069")
    parser.add_argument("--size", default="1400,850")
    parser.add_argument("--wait", default=".o_list_renderer, .o_form_renderer")
    parser.add_argument("--login", default="admin", help="user to log in as (portal: harbour)")
    parser.add_argument("--password", default=None, help="its password (default: the login)")
    parser.add_argument(
        "--no-login", action="store_true", help="as a visitor who is not logged in (login page)"
    )
    parser.add_argument(
        "--pdf-page",
        type=int,
        default=0,
        help="the path is a PDF (e.g. /report/pdf/account.account_invoices/ID): save this page",
    )
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    profile = tempfile.mkdtemp(prefix="rebilling-shot-")
    port = 9333
    proc = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            f"--window-size={args.size}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _i in range(50):
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
                break
            except OSError:
                time.sleep(0.2)
        target = next(t for t in targets if t["type"] == "page")
        page = Page(target["webSocketDebuggerUrl"])
        page.call("Page.enable")
        if not args.no_login:
            page.call("Page.navigate", url=f"{args.base}/web/login")
            page.wait_for("!!document.querySelector('input[name=login]')")
            page.evaluate(
                f"document.querySelector('input[name=login]').value={json.dumps(args.login)};"
                "document.querySelector('input[name=password]').value="
                f"{json.dumps(args.password or args.login)};"
                "document.querySelector('form.oe_login_form').submit(); true"
            )
            # The login answers with a redirect once the session is set: a loaded server
            # takes seconds, and navigating away earlier cancels the login.
            time.sleep(1)
            page.wait_for("location.pathname !== '/web/login'", seconds=120)
        if args.pdf_page:
            save_pdf_page(page, f"{args.base}{args.path}", args.pdf_page, args.output)
            return
        page.call("Page.navigate", url=f"{args.base}{args.path}")
        try:
            page.wait_for(f"!!document.querySelector({json.dumps(args.wait)})")
        except TimeoutError:
            print(f"{args.wait} did not appear; saving the page as it is")
        time.sleep(2)
        shot = page.call("Page.captureScreenshot", format="png")
        with open(args.output, "wb") as fh:
            fh.write(base64.b64decode(shot["data"]))
        print(f"saved {args.output}")
    finally:
        proc.terminate()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
