"""Relay's web UI in a real headless Chromium (Debian's chromium and chromedriver, driven by selenium).

Run by scripts/browser-tests, which starts `relay up` on a temporary project (workflows `hook`, `helper`, `slow`)
and passes the address relay up printed at its first start. Every wait is on a condition (WebDriverWait), never a
fixed sleep. Any error in the browser's console fails the test, except the 401s of the one check that signs in
with a wrong token on purpose. Screenshots of each page go to --screenshots.

Exit status 0 when every check passed; otherwise the failed check and the browser's log are printed.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

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

    def restart(self, wait):
        with open(self.pid_file) as file:
            os.kill(int(file.read().strip()), signal.SIGTERM)
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


def check(condition, message):
    if not condition:
        raise Failure(message)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the address relay up printed: http://127.0.0.1:PORT/?token=…")
    parser.add_argument("--screenshots", default="", help="a directory for the PNG screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--relay", required=True, help="the relay executable (to restart relay up once)")
    parser.add_argument("--project", required=True, help="relay up's project directory")
    parser.add_argument("--pid-file", required=True, help="the file with relay up's pid; the restart writes it")
    arguments = parser.parse_args()

    address = urllib.parse.urlsplit(arguments.url)
    base = f"{address.scheme}://{address.netloc}"
    token = urllib.parse.parse_qs(address.query)["token"][0]
    shots = arguments.screenshots
    browser = Browser(arguments.chromium, arguments.chromedriver)
    driver = browser.driver
    passed = []

    relay = RelayProcess(arguments.relay, arguments.project, arguments.pid_file, base)

    def done(name, allowed=lambda message: False):
        errors = browser.console_errors(allowed)
        check(not errors, f"{name}: errors in the browser's console:\n  " + "\n  ".join(errors))
        passed.append(name)
        print(f"browser-tests: ok   {name}", flush=True)

    try:
        # 1. A wrong token: the sign-in form, with the server's reason; the token is gone from the address.
        driver.get(base + "/?token=relay_not-a-token")
        browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, ".sign-in .reason:not([hidden])"),
                      "the sign-in form to give the reason a wrong token is refused")
        reason = driver.find_element(By.CSS_SELECTOR, ".sign-in .reason").text
        check("not one of this project's tokens" in reason, f"the reason shown: {reason!r}")
        check("token=" not in driver.current_url, f"the token stayed in the address: {driver.current_url}")
        check(browser.js("return sessionStorage.getItem('relay.token')") is None, "a refused token was kept")
        browser.screenshot(shots, "sign-in.png")
        done("a wrong token returns to the sign-in form with the reason", allowed=lambda message: " 401 " in message)

        # 2. The address relay up printed signs in; the token leaves the address for sessionStorage.
        driver.get(arguments.url)
        browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "table.run-list"), "the runs page")
        check("token=" not in driver.current_url, f"the token stayed in the address: {driver.current_url}")
        check(browser.js("return sessionStorage.getItem('relay.token')") == token, "the token is not in sessionStorage")
        browser.until(lambda: browser.js("return document.getElementById('live').dataset.state") == "live",
                      "the event stream to be connected")
        done("the printed address signs in and the token leaves the address")

        # 2b. The page's server-sent events parser (the module the page loaded, imported again: the same instance),
        # fed one character at a time: CRLF split across chunks, comments, multi-line data, ids, retry.
        parsed = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            import("/ui/app.js").then(({ EventStreamParser }) => {
              const events = [];
              let retry = null;
              const parser = new EventStreamParser((event) => events.push(event), (value) => { retry = value; });
              const text = "retry: 1000\\n: keep-alive\\n\\nid: 6\\nevent: run\\ndata: {\\"a\\":1}\\n\\n" +
                "id: 7\\r\\nevent: step\\r\\ndata: x\\r\\ndata:y\\r\\n\\r\\ndata: no type\\r\\r\\n";
              for (const character of text) parser.push(character);
              done({ events, retry });
            }, (error) => done({ error: String(error) }));
        """)
        check(parsed == {"retry": 1000, "events": [
            {"type": "run", "data": '{"a":1}', "id": "6"}, {"type": "step", "data": "x\ny", "id": "7"},
            {"type": "message", "data": "no type", "id": "7"}]}, f"the event-stream parser gave {parsed}")
        done("the page parses server-sent events as the standard says")

        # 3. A webhook's run appears in the list and turns succeeded, without reloading the page.
        check(not rows(browser), "runs listed before any was started")
        browser.js("window.__sameDocument = true")
        http("POST", base + "/webhooks/hook", body={"n": 5, "items": ["a", "b", "c"]})
        browser.until(lambda: any(row["workflow"] == "hook" for row in rows(browser)),
                      "the webhook's run to appear in the list")
        hooks = [row for row in rows(browser) if row["workflow"] == "hook"]
        check(len(hooks) == 1, f"{len(hooks)} rows for one run of hook: {hooks}")
        run_id = hooks[0]["run"]

        def row_of_run():
            return next((row for row in rows(browser) if row["run"] == run_id), {})

        browser.until(lambda: row_of_run().get("status") == "succeeded", f"run {run_id} to turn succeeded in the list")
        check(browser.js("return window.__sameDocument === true"), "the page was reloaded")
        check("✓ succeeded" in row_of_run()["text"], f"the row's status has no symbol and word: {row_of_run()}")
        check(any(row["workflow"] == "helper" for row in rows(browser)), "the sub-workflow's run is not listed")
        browser.screenshot(shots, "runs.png")
        done("a webhook's run appears and succeeds in the list without a reload")

        # 3b. relay up restarts: the page reconnects with Last-Event-ID, and runs go on appearing.
        relay.restart(browser.until)
        browser.until(lambda: browser.js("const live = document.getElementById('live'); "
                                         "return live.dataset.state === 'live' && live.dataset.resumedFrom !== ''"),
                      "the stream to reconnect after the event it had seen (Last-Event-ID)")
        http("POST", base + "/webhooks/hook", body={"n": 6, "items": []})
        browser.until(lambda: len([row for row in rows(browser) if row["workflow"] == "hook"]) == 2,
                      "the run started after the restart to appear")
        check(browser.js("return window.__sameDocument === true"), "the page was reloaded")
        # While relay up was down, the stream's reconnections were refused: those errors are expected.
        done("the stream reconnects with Last-Event-ID across a restart of relay up",
             allowed=lambda message: "/api/v1/stream" in message
             and ("ERR_CONNECTION_REFUSED" in message or "ERR_EMPTY_RESPONSE" in message))

        # 4. Its page: one graph node per step, with the statuses of the finished run.
        driver.find_element(By.CSS_SELECTOR, f'tr[data-run="{run_id}"] td.run-id a').click()
        expected = {"encode": "succeeded", "each": "succeeded", "child": "succeeded", "never": "skipped",
                    "report": "succeeded"}
        browser.until(lambda: node_statuses(browser) == expected,
                      f"the graph's nodes to be {expected} (they are {node_statuses(browser)})")
        api_run = http("GET", f"{base}/api/v1/runs/{run_id}", token=token)
        check(len(driver.find_elements(By.CSS_SELECTOR, "svg .node")) == len(api_run["graph"]),
              "not one node per step of the graph")
        check(len(driver.find_elements(By.CSS_SELECTOR, "svg .edge")) == sum(len(s["needs"]) for s in api_run["graph"]),
              "not one edge per need")
        each = driver.find_element(By.CSS_SELECTOR, 'svg .node[data-step="each"]')
        check(each.get_attribute("data-items") == "3/3" and "3/3 items" in each.text,
              f"the for_each node does not show 3/3: {each.text!r}")
        never = driver.find_element(By.CSS_SELECTOR, 'svg .node[data-step="never"]')
        check("↷ skipped" in never.text, f"the skipped node has no symbol and word: {never.text!r}")
        # Layers from Relay's layout: encode on top, report at the bottom.
        layers = {node["step"]: node["layer"] for node in api_run["layout"]["nodes"]}
        check(layers["encode"] == 0 and layers["report"] == 2, f"the layout's layers: {layers}")
        # The keyboard selects a step: its input and output as JSON.
        encode = driver.find_element(By.CSS_SELECTOR, 'svg .node[data-step="encode"]')
        browser.js("arguments[0].focus()", encode)
        ActionChains(driver).send_keys(Keys.ENTER).perform()
        browser.until(lambda: "n=5" in driver.find_element(By.CSS_SELECTOR, "[data-field=step-detail]").text,
                      "the selected step's input to be shown")
        detail = driver.find_element(By.CSS_SELECTOR, "[data-field=step-detail]").text
        check("Input" in detail and "Output" in detail, f"the step's detail: {detail[:400]!r}")
        browser.screenshot(shots, "run.png")
        done("the run's page draws one node per step with the right statuses")

        # 5. The sub-workflow node links to the child run.
        link = driver.find_element(By.CSS_SELECTOR, 'svg .node[data-step="child"] a[data-child-run]')
        child_id = link.get_attribute("data-child-run")
        browser.js("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}))", link)
        browser.until(lambda: node_statuses(browser) == {"hash": "succeeded"}, f"child run {child_id}'s graph")
        check(child_id in driver.current_url, f"not on the child run's page: {driver.current_url}")
        check(run_id in driver.find_element(By.CSS_SELECTOR, "[data-field=facts]").text, "the parent is not named")
        done("a sub-workflow node links to its child run")

        # 6. A run whose step sleeps: Cancel, and see it cancelled, live.
        started = http("POST", base + "/api/v1/workflows/slow/runs", token=token, body={})
        slow_id = started["run_id"]
        driver.get(f"{base}/#/runs/{slow_id}")
        browser.until(lambda: node_statuses(browser).get("nap") == "running", "the slow run's step to be running")
        check(node_statuses(browser).get("after") == "pending", f"after is not pending: {node_statuses(browser)}")
        cancel = driver.find_element(By.CSS_SELECTOR, "[data-field=cancel]")
        check(cancel.is_displayed(), "no Cancel button on a running run")
        browser.screenshot(shots, "run-running.png")
        cancel.click()
        browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "#run-title .status[data-status=cancelled]"),
                      "the run to show cancelled")
        browser.until(lambda: driver.find_element(By.CSS_SELECTOR, "[data-field=resume]").is_displayed(),
                      "the Resume button on the cancelled run")
        check(not driver.find_element(By.CSS_SELECTOR, "[data-field=cancel]").is_displayed(),
              "a Cancel button on a cancelled run")
        browser.until(lambda: node_statuses(browser).get("after") == "cancelled",
                      f"the step that never started to show cancelled ({node_statuses(browser)})")
        browser.screenshot(shots, "run-cancelled.png")
        done("Cancel on a running run cancels it, shown live")

        # 6b. Resume: the run runs again (its step sleeps again), shown live.
        driver.find_element(By.CSS_SELECTOR, "[data-field=resume]").click()
        browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "#run-title .status[data-status=running]"),
                      "the resumed run to show running")
        browser.until(lambda: node_statuses(browser) == {"nap": "running", "after": "pending"},
                      f"the resumed run's steps ({node_statuses(browser)})")
        check(driver.find_element(By.CSS_SELECTOR, "[data-field=cancel]").is_displayed(), "no Cancel once resumed")
        done("Resume on a cancelled run runs it again, shown live")

        # 7. The list filtered by workflow and status, at a phone's width.
        driver.set_window_size(390, 844)
        # The filters, chosen in the form: the address follows (a link to the filtered list).
        driver.get(base + "/#/runs")
        browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-field=workflow] option[value=hook]"),
                      "the workflow filter's options")
        Select(driver.find_element(By.CSS_SELECTOR, "[data-field=workflow]")).select_by_value("hook")
        browser.until(lambda: "workflow=hook" in driver.current_url, "the address to carry the workflow filter")
        browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-field=status]"), "the status filter")
        Select(driver.find_element(By.CSS_SELECTOR, "[data-field=status]")).select_by_value("succeeded")
        browser.until(lambda: "status=succeeded" in driver.current_url, "the address to carry the status filter")
        hook_runs = [run["id"] for run in http("GET", f"{base}/api/v1/runs?workflow=hook", token=token)["runs"]]
        check(len(hook_runs) == 2, f"the API lists {len(hook_runs)} runs of hook")
        browser.until(lambda: [row["run"] for row in rows(browser)] == hook_runs,
                      f"the list filtered to the two succeeded runs of hook ({rows(browser)})")
        # Paging through the API's cursors, one run a page (the address's limit).
        driver.get(base + "/#/runs?workflow=hook&limit=1")
        browser.until(lambda: [row["run"] for row in rows(browser)] == hook_runs[:1], "the first page of one run")
        driver.find_element(By.CSS_SELECTOR, "[data-field=older]").click()
        browser.until(lambda: [row["run"] for row in rows(browser)] == hook_runs[1:], "the second page")
        check("limit=1" in driver.current_url and "cursor=" in driver.current_url, driver.current_url)
        driver.find_element(By.CSS_SELECTOR, "[data-field=newest]").click()
        browser.until(lambda: [row["run"] for row in rows(browser)] == hook_runs[:1], "back to the first page")
        driver.get(base + "/#/runs?workflow=hook&status=succeeded")
        browser.until(lambda: [row["run"] for row in rows(browser)] == hook_runs, "the filtered list again")
        check(browser.js("return document.querySelector('[data-field=workflow]').value") == "hook"
              and browser.js("return document.querySelector('[data-field=status]').value") == "succeeded",
              "the filters do not show the address's workflow and status")
        width = browser.js("return document.documentElement.scrollWidth")
        check(width <= 390, f"the page is wider than a phone ({width} px)")
        table = browser.js("const wrap = document.querySelector('.table-wrap'); return [wrap.scrollWidth, wrap.clientWidth]")
        check(table[0] <= table[1], f"the list scrolls sideways at a phone's width ({table})")
        browser.screenshot(shots, "runs-phone.png")
        driver.get(f"{base}/#/runs/{run_id}")
        browser.until(lambda: len(node_statuses(browser)) == len(expected), "the run's page at a phone's width")
        width = browser.js("return document.documentElement.scrollWidth")
        check(width <= 390, f"the run's page is wider than a phone ({width} px)")
        browser.screenshot(shots, "run-phone.png")
        done("filters by workflow and status, pages by cursor; fits a phone's width")

        # 8. The token revoked while a page is open: back to the sign-in form, saying why.
        driver.set_window_size(1280, 800)
        driver.get(base + "/#/runs")
        browser.until(lambda: browser.js("return document.getElementById('live').dataset.state") == "live",
                      "the runs page's stream")
        subprocess.run([arguments.relay, "tokens", "revoke", "default", "--dir", arguments.project], check=True,
                       stdout=subprocess.DEVNULL)
        browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, ".sign-in .reason:not([hidden])"),
                      "the sign-in form once the token is revoked")
        reason = driver.find_element(By.CSS_SELECTOR, ".sign-in .reason").text
        check("revoked" in reason, f"the reason shown: {reason!r}")
        check(browser.js("return sessionStorage.getItem('relay.token')") is None, "the revoked token was kept")
        done("a token revoked while the page is open returns to the sign-in form", allowed=lambda m: " 401 " in m)
    except Exception as failure:  # noqa: BLE001 - a failed check, or selenium's own error: both fail the run
        print(f"browser-tests: FAIL {failure}", file=sys.stderr)
        if not isinstance(failure, Failure):
            traceback.print_exc()
        for entry in browser.driver.get_log("browser"):
            print(f"  console [{entry.get('level')}] {entry.get('message')}", file=sys.stderr)
        return 1
    finally:
        browser.quit()
    print(f"browser-tests: {len(passed)} checks passed")
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    status = main()
    print(f"browser-tests: {time.monotonic() - started:.1f} s")
    sys.exit(status)
