"""The sign-in, the runs list and a run's page (checks 1 to 7 of docs/ui.md's list)."""

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from harness import check, http, node_statuses, rows, wider_than


def checks(ctx):
    browser, driver, base, token, shots, relay, done = (
        ctx.browser, ctx.driver, ctx.base, ctx.token, ctx.shots, ctx.relay, ctx.done)
    arguments = ctx.arguments
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
    # Found and clicked in one script: the list redraws its rows as runs appear (the sub-workflow's run of the run
    # started after the restart may come now), and an element found before a redraw is stale.
    browser.js("document.querySelector(arguments[0]).click()", f'tr[data-run="{run_id}"] td.run-id a')
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
    check(width <= 390, f"the page is wider than a phone ({width} px): {wider_than(browser, 390)}")
    table = browser.js("const wrap = document.querySelector('.table-wrap'); return [wrap.scrollWidth, wrap.clientWidth]")
    check(table[0] <= table[1], f"the list scrolls sideways at a phone's width ({table})")
    browser.screenshot(shots, "runs-phone.png")
    driver.get(f"{base}/#/runs/{run_id}")
    browser.until(lambda: len(node_statuses(browser)) == len(expected), "the run's page at a phone's width")
    width = browser.js("return document.documentElement.scrollWidth")
    check(width <= 390, f"the run's page is wider than a phone ({width} px): {wider_than(browser, 390)}")
    browser.screenshot(shots, "run-phone.png")
    done("filters by workflow and status, pages by cursor; fits a phone's width")
