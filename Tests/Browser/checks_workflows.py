"""The workflows' pages (checks 8 to 13 of docs/ui.md's list): the list, a workflow's graph, starting a run by hand
with a JSON body (refused in the page when it is not JSON, refused by the server beyond its limits), and the error
of an invalid file."""

import base64
import json
import os
import urllib.error

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from harness import check, http, rows


def graph_counts(browser):
    return browser.js("return [document.querySelectorAll('svg .node').length, "
                      "document.querySelectorAll('svg .edge').length]")


def text_of(browser, selector):
    """The text of the element `selector` finds, read at once (the list redraws its rows when a run changes: a found
    element may go stale); None when there is none."""
    return browser.js("const found = document.querySelector(arguments[0]); return found ? found.innerText : null",
                      selector)


def click(browser, selector):
    """Clicks the element `selector` finds, in the page at once (see text_of)."""
    browser.js("document.querySelector(arguments[0]).click()", selector)


def start_result(driver):
    return driver.find_element(By.CSS_SELECTOR, "[data-field=start-result]").text


def type_event(browser, text):
    """Sets the trigger event's text area as typing would (an input event), whatever its length."""
    browser.js("const area = document.querySelector('[data-field=event]'); area.value = arguments[0]; "
               "area.dispatchEvent(new Event('input', {bubbles: true}))", text)


def write_file(path, text):
    """Replaces a workflow file at once (a file read half-written would be another error)."""
    temporary = os.path.join(os.path.dirname(os.path.dirname(path)), "." + os.path.basename(path) + ".tmp")
    with open(temporary, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def checks(ctx):
    browser, driver, base, shots, done = ctx.browser, ctx.driver, ctx.base, ctx.shots, ctx.done
    driver.set_window_size(1280, 800)

    # 8. The list: each workflow with its trigger, its active version and a link to its runs.
    listed = ctx.api("GET", "/workflows")["workflows"]
    driver.get(base + "/#/workflows")
    browser.until(lambda: len(driver.find_elements(By.CSS_SELECTOR, "tr[data-workflow]")) == len(listed),
                  f"one row per workflow of the API ({[each['file'] for each in listed]})")
    check(browser.js("return document.querySelector('nav [data-section=workflows]').hasAttribute('aria-current')"),
          "the bar does not mark Workflows as the current section")
    for workflow in listed:
        name = workflow["name"]
        text = text_of(browser, f'tr[data-workflow="{name}"][data-valid="true"]')
        check(workflow["valid"] and text and "✓ loads" in text, f"{name} is not shown as loading: {text!r}")
        check(workflow["version"][:12] in text, f"{name}'s version {workflow['version'][:12]} is not shown: {text!r}")
        trigger = workflow["trigger"]
        expected = f"{trigger['plugin']} · {trigger['trigger']}" if trigger else "none"
        check(expected in text, f"{name}'s trigger {expected!r} is not shown: {text!r}")
        check(text_of(browser, f'tr[data-workflow="{name}"] a[href="#/runs?workflow={name}"]') is not None,
              f"no link to {name}'s runs")
    hook_row = text_of(browser, 'tr[data-workflow="hook"]')
    check("path" in hook_row and "hook" in hook_row, f"the webhook's input is not shown: {hook_row!r}")
    browser.screenshot(shots, "workflows.png")
    done("the workflows list shows each workflow's trigger and version")

    # 9. A workflow's page, opened from the list: one node per step, an edge per need, its trigger, versions and
    # recent runs; a node selected with the keyboard says what the step runs.
    click(browser, 'tr[data-workflow="hook"] a[href="#/workflows/hook"]')
    hook = ctx.api("GET", "/workflows/hook")
    edges = sum(len(step["needs"]) for step in hook["graph"])
    browser.until(lambda: graph_counts(browser) == [hook["steps_count"], edges],
                  f"{hook['steps_count']} nodes and {edges} edges (there are {graph_counts(browser)})")
    check(len(hook["steps"]) == hook["steps_count"], "the API's steps and steps_count differ")
    facts = text_of(browser, ".workflow [data-field=facts]")
    check("webhook · webhook" in facts and hook["trigger"]["instance"] in facts, f"the trigger: {facts!r}")
    browser.until(lambda: [row["run"] for row in rows(browser)] == [run["id"] for run in hook["recent_runs"]],
                  f"the recent runs to be {[run['id'] for run in hook['recent_runs']]}")
    versions = browser.js("return [...document.querySelectorAll('tr[data-version]')].map(row => row.dataset.version)")
    check(versions == [version["hash"] for version in hook["versions"]], f"the versions shown: {versions}")
    check("(active)" in text_of(browser, f'tr[data-version="{hook["version"]}"]'), "the active version is not marked")
    node = driver.find_element(By.CSS_SELECTOR, 'svg .node[data-step="each"]')
    check("each: base64 · encode" in node.text, f"the loop's node says {node.text!r}")
    browser.js("arguments[0].focus()", node)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    browser.until(lambda: "For each" in driver.find_element(By.CSS_SELECTOR, "[data-field=step-detail]").text,
                  "the selected step's definition")
    detail = driver.find_element(By.CSS_SELECTOR, "[data-field=step-detail]").text
    check("{{ trigger.json.items }}" in detail and "encode" in detail, f"the step's definition: {detail!r}")
    done("a workflow's page draws one node per step, its trigger, versions and recent runs")

    # 10. Start a run by hand: text that is not JSON is refused in the page, and nothing is sent.
    driver.get(base + "/#/workflows/manual")
    browser.until(lambda: graph_counts(browser) == [2, 1], "manual's graph")
    browser.js("window.__sameDocument = true")
    area = driver.find_element(By.CSS_SELECTOR, "[data-field=event]")
    area.clear()
    area.send_keys('{"name": Ada}')
    driver.find_element(By.CSS_SELECTOR, "[data-field=start]").click()
    browser.until(lambda: "not valid JSON" in start_result(driver), "the page to refuse text that is not JSON")
    check("Nothing was sent" in start_result(driver), f"the refusal: {start_result(driver)!r}")
    check(area.get_attribute("aria-invalid") == "true", "the text area is not marked invalid")
    check(browser.js("return document.activeElement === document.querySelector('[data-field=event]')"),
          "the focus did not go back to the text area")
    check(ctx.api("GET", "/runs?workflow=manual")["runs"] == [], "a run was started with text that is not JSON")
    done("text that is not JSON is refused in the page")

    # 11. JSON the server refuses (nested deeper than its limit, 500): its reason, as a sentence.
    deep = "[" * 600 + "]" * 600
    try:
        http("POST", f"{base}/api/v1/workflows/manual/runs", token=ctx.token, body=json.loads(deep))
        reason = None
    except urllib.error.HTTPError as error:
        reason = json.loads(error.read().decode())["error"]["message"]
    check(reason, "the API accepted a body nested 600 deep")
    type_event(browser, deep)
    driver.find_element(By.CSS_SELECTOR, "[data-field=start]").click()
    browser.until(lambda: "The server refused to start the run:" in start_result(driver), "the server's refusal")
    shown = start_result(driver)
    check(reason.rstrip(".") in shown and shown.endswith("."), f"the refusal shown: {shown!r}; the API's: {reason!r}")
    check(ctx.api("GET", "/runs?workflow=manual")["runs"] == [], "the refused body started a run")
    done("the server's refusal of a body is shown as a sentence", allowed=lambda message: " 400 " in message)

    # 12. A JSON body: the page opens the new run once it exists, and it succeeds with that body as its trigger.
    area.clear()
    area.send_keys('{"name": "Ada"}')
    check(area.get_attribute("aria-invalid") == "false", "the text area is still marked invalid after an edit")
    driver.find_element(By.CSS_SELECTOR, "[data-field=start]").click()
    browser.until(lambda: "#/runs/run-" in driver.current_url, "the page to open the run it started")
    run_id = driver.current_url.split("#/runs/")[1]
    browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "#run-title .status[data-status=succeeded]"),
                  f"run {run_id} to succeed")
    check(browser.js("return window.__sameDocument === true"), "the page was reloaded")
    run = ctx.api("GET", f"/runs/{run_id}")
    check(run["workflow"] == "manual" and run["trigger_event"] == {"name": "Ada"}, f"the run: {run}")
    greet = next(step for step in run["steps"] if step["step"] == "greet")
    check(greet["output"]["data"] == base64.b64encode(b"hello Ada").decode(), f"greet's output: {greet['output']}")
    check('"name": "Ada"' in driver.find_element(By.CSS_SELECTOR, "[data-field=trigger]").get_attribute("textContent"),
          "the run's page does not show the trigger event")
    # Back on the workflow's page: the run in its recent runs, its version recorded; a run started meanwhile
    # appears without a reload.
    driver.back()
    browser.until(lambda: [(row["run"], row["status"]) for row in rows(browser)] == [(run_id, "succeeded")],
                  "the run in the workflow's recent runs")
    manual = ctx.api("GET", "/workflows/manual")
    browser.until(lambda: browser.js("return [...document.querySelectorAll('tr[data-version]')]"
                                     ".map(row => row.dataset.version)") == [manual["version"]],
                  "the active version in the versions, first seen with the run")
    other = ctx.api("POST", "/workflows/manual/runs", body={"name": "Grace"})["run_id"]
    browser.until(lambda: [(row["run"], row["status"]) for row in rows(browser)]
                  == [(other, "succeeded"), (run_id, "succeeded")], "a run started meanwhile, live")
    check(browser.js("return window.__sameDocument === true"), "the page was reloaded")
    driver.find_element(By.CSS_SELECTOR, 'svg .node[data-step="greet"]').click()
    browser.until(lambda: "nothing: it starts the run"
                  in driver.find_element(By.CSS_SELECTOR, "[data-field=step-detail]").text,
                  "greet's definition")
    browser.screenshot(shots, "workflow.png")
    done("a run started by hand with a JSON body opens and succeeds")

    # 13. The error of an invalid file, as the files are now (relay up is not told: the API reads them when asked):
    # a new file that never loaded, and a loaded workflow's file broken (its version goes on running).
    directory = os.path.join(ctx.arguments.project, "workflows")
    manual_path = os.path.join(directory, "manual.yaml")
    broken_path = os.path.join(directory, "broken.yaml")
    with open(manual_path) as file:
        manual_text = file.read()
    try:
        write_file(broken_path, "name: broken\nsteps:\n"
                   "  - {id: a, plugin: base64, action: encode, input: {content: x}}\n"
                   "  - {id: b, needs: [zzz], plugin: base64, action: encode, input: {content: x}}\n")
        write_file(manual_path, manual_text.replace("action: encode", "action: nope", 1))
        files = {each["file"]: each for each in ctx.api("GET", "/workflows")["workflows"]}
        check(not files["broken.yaml"]["valid"] and not files["manual.yaml"]["valid"], f"the API says {files}")
        driver.get(base + "/#/workflows")
        browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, 'tr[data-file="broken.yaml"][data-valid=false]'),
                      "the broken file in the list")
        broken = text_of(browser, 'tr[data-problems-of="broken.yaml"]')
        check('broken.yaml:4: steps[1].needs' in broken and 'unknown step "zzz"' in broken,
              f"the broken file's error: {broken!r}")
        check("✕ does not load" in text_of(browser, 'tr[data-file="broken.yaml"]'),
              "the broken file is not said not to load")
        check(driver.find_elements(By.CSS_SELECTOR, 'tr[data-workflow="manual"][data-valid=false]'),
              "manual is not shown as not loading")
        browser.screenshot(shots, "workflows-invalid.png")
        driver.get(base + "/#/workflows/manual")
        browser.until(lambda: driver.find_element(By.CSS_SELECTOR, "[data-field=problems-section]").is_displayed(),
                      "the error of manual's file on its page")
        problems = driver.find_element(By.CSS_SELECTOR, "[data-field=problems-section]").text
        check("manual.yaml: steps[0].action" in problems and 'no action "nope"' in problems,
              f"manual's error: {problems!r}")
        check("✕ does not load" in driver.find_element(By.ID, "workflow-title").text, "the title does not say it")
        browser.until(lambda: graph_counts(browser) == [2, 1], "the active version's graph, still drawn")
        # At a phone's width, both pages fit.
        driver.set_window_size(390, 844)
        browser.until(lambda: browser.js("return document.documentElement.scrollWidth") <= 390,
                      "the workflow's page to fit a phone's width")
        browser.screenshot(shots, "workflow-phone.png")
        driver.get(base + "/#/workflows")
        browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, 'tr[data-problems-of="broken.yaml"]'),
                      "the list at a phone's width")
        width = browser.js("return document.documentElement.scrollWidth")
        check(width <= 390, f"the list is wider than a phone ({width} px)")
    finally:
        write_file(manual_path, manual_text)
        if os.path.exists(broken_path):
            os.remove(broken_path)
        driver.set_window_size(1280, 800)
    done("an invalid file's error: where, what was expected and found")
