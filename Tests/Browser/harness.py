"""What the browser tests share: a headless Chromium whose console is read after each check, requests to the API,
restarting relay up, and the context a group of checks gets (test_ui.py runs the groups in order)."""

import json
import os
import signal
import socket
import subprocess
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT_SECONDS = 45  # a loaded two-core machine; every wait ends as soon as its condition holds


class Failure(Exception):
    pass


class Browser:
    """A headless Chromium at 1280×800 whose console is read after each check."""

    def __init__(self, chromium, chromedriver):
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
                         "--disable-gpu", "--no-first-run", "--disable-extensions", "--lang=en-US"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        self.wait = WebDriverWait(self.driver, WAIT_SECONDS, poll_frequency=0.1)

    def until(self, condition, what):
        try:
            return self.wait.until(lambda driver: condition())
        except TimeoutException:
            raise Failure(f"waited {WAIT_SECONDS} s for {what}; the page says: {self.page_text()[:1500]}") from None

    def page_text(self):
        try:
            return self.driver.find_element(By.TAG_NAME, "body").text
        except Exception:  # noqa: BLE001 - only for a message
            return "(no page)"

    def js(self, script, *arguments):
        return self.driver.execute_script(script, *arguments)

    def console_errors(self, allowed=lambda message: False):
        """The console's errors since the last call, except the network messages `allowed` accepts."""
        errors = []
        for entry in self.driver.get_log("browser"):
            if entry.get("level") != "SEVERE":
                continue
            message = entry.get("message", "")
            if entry.get("source") == "network" and allowed(message):
                continue
            errors.append(f"[{entry.get('source')}] {message}")
        return errors

    def screenshot(self, directory, name):
        if directory:
            os.makedirs(directory, exist_ok=True)
            self.driver.save_screenshot(os.path.join(directory, name))

    def quit(self):
        self.driver.quit()


def http(method, url, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        return json.loads(text) if response.headers.get_content_type() == "application/json" else text


class RelayProcess:
    """Restarts the relay up that scripts/browser-tests started, on the same port and project."""

    def __init__(self, relay, project, pid_file, base):
        self.relay, self.project, self.pid_file, self.base = relay, project, pid_file, base
        self.port = urllib.parse.urlsplit(base).port

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def ready(self):
        try:
            with urllib.request.urlopen(self.base + "/readyz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def restart(self, wait, kill=False):
        """Stops relay up (SIGTERM: it drains, waiting for the jobs in flight; `kill`: SIGKILL, at once, as a crash:
        what was not acknowledged is delivered again) and starts it again."""
        with open(self.pid_file) as file:
            os.kill(int(file.read().strip()), signal.SIGKILL if kill else signal.SIGTERM)
        wait(lambda: not self.answers(), "relay up to stop")
        environment = {key: value for key, value in os.environ.items() if key != "RELAY_API_TOKEN"}
        log = open(os.path.join(self.project, "relay-restarted.log"), "ab")
        process = subprocess.Popen(
            [self.relay, "up", "--dir", self.project, "--port", str(self.port), "--reload-interval", "0"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=environment, start_new_session=True)
        with open(self.pid_file, "w") as file:
            file.write(str(process.pid))
        wait(self.ready, "relay up to be ready again")


def rows(browser):
    """The runs list's rows, read at once (the list redraws rows as they change: elements do not last)."""
    return browser.js(
        "return [...document.querySelectorAll('tr[data-run]')].map(row => ({run: row.dataset.run, "
        "workflow: row.dataset.workflow, status: row.dataset.status, text: row.innerText}))")


def node_statuses(browser):
    return browser.js(
        "return Object.fromEntries([...document.querySelectorAll('svg .node')]"
        ".map(node => [node.dataset.step, node.dataset.status]))")


def wider_than(browser, width):
    """The elements that reach past `width` CSS pixels (the first few), to say why a page is too wide."""
    return browser.js(
        "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > arguments[0]"
        " && !e.parentElement.closest('.table-wrap, pre, .graph')).slice(0, 5)"
        ".map(e => e.localName + '.' + e.getAttribute('class') + ' '"
        " + Math.round(e.getBoundingClientRect().right))", width)


def check(condition, message):
    if not condition:
        raise Failure(message)


class Context:
    """What a group of checks works with: the browser, relay up's address and token, where screenshots go, and
    `done(name, allowed)`, which ends a check (the console must have no error, except network messages `allowed`
    accepts) and counts it."""

    def __init__(self, browser, base, url, token, shots, relay, arguments):
        self.browser, self.driver = browser, browser.driver
        self.base, self.url, self.token, self.shots = base, url, token, shots
        self.relay, self.arguments = relay, arguments
        self.passed = []

    def done(self, name, allowed=lambda message: False):
        errors = self.browser.console_errors(allowed)
        check(not errors, f"{name}: errors in the browser's console:\n  " + "\n  ".join(errors))
        self.passed.append(name)
        print(f"browser-tests: ok   {name}", flush=True)

    def api(self, method, path, body=None):
        """The API with this run's token: GET /api/v1/PATH and so on."""
        return http(method, f"{self.base}/api/v1{path}", token=self.token, body=body)
