"""Relay's web UI in a real headless Chromium (Debian's chromium and chromedriver, driven by selenium).

Run by scripts/browser-tests, which starts `relay up` on a temporary project (the workflows of
Tests/Browser/project) and passes the address relay up printed at its first start. The groups of checks run in
order against the same relay up (checks_*.py); the last check revokes the token. Every wait is on a condition
(WebDriverWait), never a fixed sleep. Any error in the browser's console fails the test, except the network
errors a check expects. Screenshots of each page go to --screenshots.

Exit status 0 when every check passed; otherwise the failed check and the browser's log are printed.
"""

import argparse
import subprocess
import sys
import time
import traceback
import urllib.parse

from selenium.webdriver.common.by import By

import checks_dead_letters
import checks_run_details
import checks_runs
import checks_workflows
from harness import Browser, Context, Failure, RelayProcess, check

# The groups of checks, in order: each gets the same Context (and relay up as the previous one left it).
GROUPS = [checks_runs.checks, checks_workflows.checks, checks_dead_letters.checks, checks_run_details.checks]


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
    browser = Browser(arguments.chromium, arguments.chromedriver)
    relay = RelayProcess(arguments.relay, arguments.project, arguments.pid_file, base)
    ctx = Context(browser, base, arguments.url, token, arguments.screenshots, relay, arguments)
    driver, done = browser.driver, ctx.done
    try:
        for group in GROUPS:
            group(ctx)
        # 23. The token revoked while a page is open: back to the sign-in form, saying why.
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
    print(f"browser-tests: {len(ctx.passed)} checks passed")
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    status = main()
    print(f"browser-tests: {time.monotonic() - started:.1f} s")
    sys.exit(status)

