#!/usr/bin/env python3
"""Drives headless Chromium over its DevTools protocol (stdlib only: a minimal WebSocket
client) against the ZeroTask dashboard, for DashboardBrowserTests.

usage: drive_dashboard.py CHROMIUM BASE_URL SUBMITTED_ID FAILED_ID SCREENSHOT.png TAGGED_ID CHAIN_ID

Checks, in a real browser: the three charts drew (non-blank canvas pixels), the submitted
task appears in the tasks view, the failed task is retried by clicking its button, the node's
tags (gpu, eu) show in the nodes table and the tagged task's (gpu) in the tasks view and on its
page, the chain's page lists its two steps, finished, each linking to its own page, and the
retried task's timeline shows its crashed run, the retry and the run that finished. Writes
a screenshot and prints one JSON object with what it saw; exits 1 on the first check that
does not hold within its deadline (the message says which).
"""
import base64, json, os, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.request

chromium, base, submitted, failed, shot, tagged, chain = sys.argv[1:8]
profile = tempfile.mkdtemp(prefix="zt-chromium-")
browser = subprocess.Popen(
    [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
     "--remote-debugging-port=0", "--user-data-dir=" + profile, "--window-size=1280,1600", "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fail(why):
    print(json.dumps({"ok": False, "error": why}))
    sys.exit(1)


def until(what, check, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    fail("timed out waiting for " + what)


class DevTools:
    """One WebSocket to a page target; commands answered by id."""

    def __init__(self, url):
        host, rest = url[len("ws://"):].split("/", 1)
        h, p = host.split(":")
        self.sock = socket.create_connection((h, int(p)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            fail("DevTools refused the WebSocket: " + head.decode(errors="replace"))
        self.next = 0

    def _send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536
                                  else bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                fail("DevTools closed the connection")
            out += chunk
        return out

    def _receive(self):
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            message += self._exact(n)
            if b0 & 0x80:
                return json.loads(message)

    def call(self, method, **params):
        self.next += 1
        self._send(json.dumps({"id": self.next, "method": method, "params": params}))
        while True:
            m = self._receive()
            if m.get("id") == self.next:
                if "error" in m:
                    fail(f"{method}: {m['error']}")
                return m.get("result", {})

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            fail("script error: " + json.dumps(r["exceptionDetails"])[:400])
        return r["result"].get("value")


try:
    port_file = os.path.join(profile, "DevToolsActivePort")
    until("Chromium's DevTools port", lambda: os.path.exists(port_file) and open(port_file).read().strip())
    port = open(port_file).read().split()[0]
    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
    page = [t for t in targets if t.get("type") == "page"][0]
    dt = DevTools(page["webSocketDebuggerUrl"])
    dt.call("Page.enable")
    dt.call("Page.navigate", url=base + "/")
    until("the dashboard's second refresh", lambda: (dt.js("document.body ? Number(document.body.dataset.refreshed || 0) : 0") or 0) >= 2)

    # Pixels drawn on each canvas (any non-transparent one).
    inked = dt.js("""['rate','depth','latency'].map(id => { const c = document.getElementById(id);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++; return n; })""")
    if not all(n > 0 for n in inked):
        fail(f"a chart drew nothing: inked pixels {inked}")

    row = lambda tid: f"document.querySelector('tr[data-task-id=\"{tid}\"]')"
    until("the submitted task in the tasks view", lambda: dt.js(f"!!{row(submitted)}"))
    dt.js("document.getElementById('failed-only').click()")
    until("the failed task's retry button", lambda: dt.js(f"!!({row(failed)} && {row(failed)}.querySelector('.act-retry'))"))
    dt.js(f"{row(failed)}.querySelector('.act-retry').click()")
    said = until("the page to report the retry", lambda: dt.js("document.getElementById('action-result').textContent"))
    if not said.startswith("retry: 1"):
        fail("the page reported: " + said)

    # Queue control from the methods table: pause a method, see it marked, resume it.
    method = until("a method row with a pause button",
                   lambda: dt.js("(() => { const r = document.querySelector('#methods tr[data-method]');"
                                 " return r && r.querySelector('.act-pause') ? r.dataset.method : null; })()"))
    mrow = f"document.querySelector('#methods tr[data-method=\"{method}\"]')"
    dt.js(f"{mrow}.querySelector('.act-pause').click()")
    until("the page to report the pause", lambda: dt.js("document.getElementById('action-result').textContent") == f"{method}: paused")
    until("the method marked paused", lambda: dt.js(f"{mrow}.classList.contains('paused') && !!{mrow}.querySelector('.act-resume')"))
    dt.js(f"{mrow}.querySelector('.act-resume').click()")
    until("the method resumed", lambda: dt.js(f"!{mrow}.classList.contains('paused') && !!{mrow}.querySelector('.act-pause')"))

    # Tags: the node's in the nodes table, the task's in the tasks view and on its page.
    tags_of = lambda selector: dt.js(f"(() => {{ const r = {selector}; return r ? [...r.querySelectorAll('.tag')].map(t => t.textContent).sort().join(',') : null; }})()")
    until("the node's tags in the nodes table",
          lambda: tags_of("document.querySelector('#nodes tr[data-node-id]')") == "eu,gpu")
    dt.js("document.getElementById('filters').elements.state.value = ''; document.getElementById('filters').requestSubmit()")
    until("the tagged task's tags in the tasks view", lambda: tags_of(row(tagged)) == "gpu")
    dt.js(f"location.hash = '#task=' + encodeURIComponent('{tagged}')")
    until("the tagged task's page naming its tags",
          lambda: "requires tags" in (dt.js("document.getElementById('task-fields').textContent") or "")
          and "gpu" in dt.js("document.getElementById('task-fields').textContent"))

    # The chain's page: its steps in order, finished, each a link to its own page.
    dt.js(f"location.hash = '#task=' + encodeURIComponent('{chain}')")
    steps = until("the chain's steps on its page", lambda: dt.js(
        "(() => { const s = document.getElementById('task-steps-section'); if (s.hidden) return null;"
        " const rows = [...document.querySelectorAll('#task-steps tbody tr')];"
        " return rows.length ? rows.map(r => [r.cells[2].textContent, r.cells[3].textContent, !!r.querySelector('a')]) : null; })()"))
    if steps != [["math.add", "finished", True], ["math.add", "finished", True]]:
        fail("the chain's steps: " + json.dumps(steps))
    dt.js("document.querySelector('#task-steps tbody tr a').click()")
    until("a step's own page", lambda: dt.js("document.getElementById('task-id').textContent") == chain + ".1"
          and dt.js("document.getElementById('task-steps-section').hidden"))

    # The retried task's page: its recorded timeline keeps the crashed run, the admin's retry
    # and the run that succeeded.
    dt.js(f"location.hash = '#task=' + encodeURIComponent('{failed}')")
    timeline = until("the retried task's timeline with its second run finished", lambda: (lambda events:
        events if events and "retried by an admin" in events and events[-1] == "finished" else None)(
        dt.js(f"document.getElementById('task-id').textContent === '{failed}' ? [...document.querySelectorAll('#task-timeline li')].map(li => li.dataset.event) : null")))
    if not any(e.startswith("attempt 1 failed") for e in timeline) or timeline.count("started (attempt 1)") != 2:
        fail("the retried task's timeline: " + json.dumps(timeline))

    # Back to every task, the chain's page open, for the screenshot.
    dt.js("document.getElementById('filters').elements.state.value = ''; document.getElementById('filters').requestSubmit()")
    dt.js(f"location.hash = '#task=' + encodeURIComponent('{chain}')")
    until("the task page", lambda: dt.js("!document.getElementById('task').hidden && document.getElementById('task-timeline').children.length > 0"))
    time.sleep(2.5)  # one more refresh, so the picture shows the latest poll (not a check)
    dt.js("window.scrollTo(0, 0)")
    png = dt.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
    with open(shot, "wb") as f:
        f.write(base64.b64decode(png))
    print(json.dumps({"ok": True, "inked": inked, "said": said, "steps": steps, "timeline": timeline}))
finally:
    browser.kill()
    browser.wait()
    shutil.rmtree(profile, ignore_errors=True)
