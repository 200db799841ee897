"""The dead letters and the overview (checks 14 to 19 of docs/ui.md's list)."""

import json
import os
import re
import subprocess
import urllib.error
import urllib.request

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from harness import check, http

# A workflow written into the project while relay up runs without hot reload: the events published for it are
# dead-lettered (no workflow is bound to their trigger instance); after a restart it is loaded, and a redriven
# event runs. Its step fails on input that is not base64.
LATE = """name: late
trigger: {plugin: webhook, trigger: webhook, input: {path: late}}
steps:
  - {id: decode, plugin: base64, action: decode, input: {base64: "{{ trigger.json.data }}"}}
"""

# Tricky input for the page's parser of Prometheus' text format, and what it must make of it.
METRICS_TEXT = "\n".join([
    "# HELP relay_x_total Counts \\\\ things\\nover two lines",
    "# TYPE relay_x_total counter",
    'relay_x_total{path="/a\\"b\\\\c",note="line\\nbreak"} 3',
    'relay_x_total{path="{},= #",} 4.5e1 1700000000000',
    "# a comment that is neither HELP nor TYPE",
    "",
    "# TYPE relay_h_seconds histogram",
    'relay_h_seconds_bucket{plugin="a",action="x",le="0.005"} 1',
    'relay_h_seconds_bucket{plugin="a",action="x",le="0.5"} 1',
    'relay_h_seconds_bucket{plugin="a",action="x",le="+Inf"} 2',
    'relay_h_seconds_sum{plugin="a",action="x"} 70.001',
    'relay_h_seconds_count{plugin="a",action="x"} 2',
    'relay_h_seconds_bucket{plugin="a",action="y",le="0.005"} 0',
    'relay_h_seconds_bucket{plugin="a",action="y",le="0.5"} 2',
    'relay_h_seconds_bucket{plugin="a",action="y",le="+Inf"} 2',
    'relay_h_seconds_sum{plugin="a",action="y"} 0.2',
    'relay_h_seconds_count{plugin="a",action="y"} 2',
    "# TYPE relay_g gauge",
    "relay_g NaN",
    "relay_up +Inf",
    "relay_down -Inf\r",
    "",
])
BAD_METRICS = {
    'relay_a{x="unclosed} 1': "no closing quote",
    'relay_a{x="\\t"} 1': "unknown escape",
    "relay_a 1 2 3": "expected a value",
    "relay_a one": "is not a value",
    "relay_a{x=1} 1": 'expected ="…"',
    "# TYPE relay_a gauge\n# TYPE relay_a gauge": "a second TYPE line",
    "relay_a 1\n# TYPE relay_a gauge": "comes after its samples",
    '\nrelay_a{x="1"}1': "line 2: expected a value",
}


def metrics_of(base):
    """GET /metrics read by the test itself (not by the page's parser): {name: [(labels, value)]}."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        check(match, f"/metrics has a line the test cannot read: {line!r}")
        labels = {name: value for name, value in re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', match[2] or "")}
        series.setdefault(match[1], []).append((labels, float(match[3])))
    return series


def total(series, name, where=lambda labels: True, by=None):
    sums = {}
    for labels, value in series.get(name, []):
        if where(labels):
            key = labels.get(by, "") if by else ""
            sums[key] = sums.get(key, 0) + value
    return sums if by else sums.get("", 0)


def bucket_bound(buckets, q):
    """The upper bound of the first bucket holding the q-quantile of a cumulative histogram {le: count}."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    return next(le for le in bounds if buckets[le] >= rank)


def expected_overview(series):
    """The overview's figures, worked out from /metrics by the test."""
    runs = {}
    for workflow, value in total(series, "relay_runs_started_total", by="workflow").items():
        runs.setdefault(workflow, {})["started"] = value
    for status in ("succeeded", "failed", "cancelled"):
        for workflow, value in total(series, "relay_runs_finished_total", lambda l, s=status: l["status"] == s,
                                     by="workflow").items():
            runs.setdefault(workflow, {})[status] = value
    runs = {workflow: {figure: figures.get(figure, 0) for figure in ("started", "succeeded", "failed", "cancelled")}
            for workflow, figures in runs.items()}
    buckets = {}
    for labels, value in series.get("relay_step_duration_seconds_bucket", []):
        plugin = buckets.setdefault(labels["plugin"], {})
        le = float(labels["le"])
        plugin[le] = plugin.get(le, 0) + value
    steps = {plugin: {"jobs": total(series, "relay_step_duration_seconds_count", lambda l, p=plugin: l["plugin"] == p),
                      "p50": bucket_bound(b, 0.5), "p99": bucket_bound(b, 0.99)} for plugin, b in buckets.items()}
    return {
        "runs": runs,
        "failed": total(series, "relay_runs_finished_total", lambda labels: labels["status"] == "failed"),
        "jobs_failed": total(series, "relay_jobs_total", lambda labels: labels["status"] == "failed"),
        "dead_letters_sent": total(series, "relay_dead_letters_total"),
        "dead_letters_kept": total(series, "relay_dead_letters_stored"),
        "steps": steps,
        "backlog": {(labels["topic"], labels["group"]): value
                    for labels, value in series.get("relay_backlog_messages", [])},
    }


SHOWN_OVERVIEW = """
    const figure = (name) => Number(document.querySelector(`[data-field="${name}"]`).dataset.value);
    const cells = (row) => Object.fromEntries([...row.querySelectorAll("[data-figure]")].map((cell) =>
      [cell.dataset.figure, cell.dataset.bound !== undefined ? cell.dataset.bound : cell.dataset.value]));
    return {
      runs: Object.fromEntries([...document.querySelectorAll("tr[data-workflow]")].map((row) => [row.dataset.workflow,
        cells(row)])),
      failed: figure("runs-failed"), jobs_failed: figure("jobs-failed"),
      dead_letters_sent: figure("dead-letters-sent"), dead_letters_kept: figure("dead-letters-kept"),
      steps: Object.fromEntries([...document.querySelectorAll("tr[data-plugin]")].map((row) => [row.dataset.plugin,
        cells(row)])),
      backlog: [...document.querySelectorAll("tr[data-topic]")].map((row) => [row.dataset.topic, row.dataset.group,
        Number(row.querySelector("[data-figure=backlog]").dataset.value)]),
    };
"""


def shown_as_expected(shown, expected):
    """The differences between what the overview shows and what the test worked out (empty: none)."""
    problems = []
    runs = {workflow: {figure: float(cells[figure]) for figure in ("started", "succeeded", "failed", "cancelled")}
            for workflow, cells in shown["runs"].items()}
    if runs != expected["runs"]:
        problems.append(f"runs {runs} != {expected['runs']}")
    for figure in ("failed", "jobs_failed", "dead_letters_sent", "dead_letters_kept"):
        if shown[figure] != expected[figure]:
            problems.append(f"{figure} {shown[figure]} != {expected[figure]}")
    steps = {plugin: {"jobs": float(cells["jobs"]), "p50": float(cells["p50"]) if cells["p50"] else None,
                      "p99": float(cells["p99"]) if cells["p99"] else None} for plugin, cells in shown["steps"].items()}
    if steps != expected["steps"]:
        problems.append(f"steps {steps} != {expected['steps']}")
    backlog = {(topic, group): value for topic, group, value in shown["backlog"]}
    if backlog != expected["backlog"]:
        problems.append(f"backlog {backlog} != {expected['backlog']}")
    return problems


def checks(ctx):
    browser, driver, base, shots, relay, done = ctx.browser, ctx.driver, ctx.base, ctx.shots, ctx.relay, ctx.done
    project = ctx.arguments.project
    driver.set_window_size(1280, 800)

    # 14. The page's parser of Prometheus' text format (metrics.js, imported as the page imports it), fed tricky
    # text: escapes in HELP and in label values, commas and braces inside values, a trailing comma, a timestamp,
    # histograms, NaN and infinities, a CRLF; and malformed lines refused with their line number.
    driver.get(base + "/#/runs")
    browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "table.run-list"), "the runs page")
    parsed = driver.execute_async_script("""
        const [text, bad, done] = arguments;
        import("/ui/metrics.js").then(({ parseMetrics, histogramsBy, quantileBound, sumBy }) => {
          const parsed = parseMetrics(text);
          const plain = (value) => Number.isFinite(value) ? value : String(value);
          const families = Object.fromEntries([...parsed.families].map(([name, family]) => [name, {
            type: family.type, help: family.help,
            samples: family.samples.map((s) => ({ ...s, value: plain(s.value) })) }]));
          const histogram = histogramsBy(parsed, "relay_h_seconds", "plugin").get("a");
          const errors = Object.fromEntries(Object.keys(bad).map((line) => {
            try { parseMetrics(line); return [line, "no error"]; } catch (error) { return [line, error.message]; }
          }));
          done({ families, errors, sum: sumBy(parsed, "relay_x_total").get(""),
                 buckets: histogram.buckets.map((b) => [plain(b.le), b.count]), count: histogram.count,
                 p50: plain(quantileBound(histogram.buckets, 0.5)), p99: plain(quantileBound(histogram.buckets, 0.99)),
                 none: quantileBound([], 0.5) });
        }, (error) => done({ error: String(error) }));
    """, METRICS_TEXT, BAD_METRICS)
    check("error" not in parsed, f"metrics.js could not be imported: {parsed}")
    families = parsed["families"]
    check(set(families) == {"relay_x_total", "relay_h_seconds", "relay_g", "relay_up", "relay_down"},
          f"the families: {sorted(families)}")
    counter = families["relay_x_total"]
    check(counter["type"] == "counter" and counter["help"] == "Counts \\ things\nover two lines", f"{counter}")
    check(counter["samples"] == [
        {"name": "relay_x_total", "labels": {"path": '/a"b\\c', "note": "line\nbreak"}, "value": 3, "timestamp": None},
        {"name": "relay_x_total", "labels": {"path": "{},= #"}, "value": 45, "timestamp": 1700000000000}],
        f"the counter's samples: {counter['samples']}")
    check(parsed["sum"] == 48, f"the counter's sum: {parsed['sum']}")
    check(families["relay_h_seconds"]["type"] == "histogram" and len(families["relay_h_seconds"]["samples"]) == 10,
          f"the histogram: {families['relay_h_seconds']}")
    # Two actions of plugin a added up: 1 then 3 then 4 observations; the middle one in the 0.5 s bucket, the 99th
    # percentile past the last finite bound.
    check(parsed["buckets"] == [[0.005, 1], [0.5, 3], ["Infinity", 4]] and parsed["count"] == 4,
          f"the histogram's buckets: {parsed['buckets']}, count {parsed['count']}")
    check(parsed["p50"] == 0.5 and parsed["p99"] == "Infinity" and parsed["none"] is None,
          f"quantile bounds: p50 {parsed['p50']}, p99 {parsed['p99']}, none {parsed['none']}")
    check([families[name]["samples"][0]["value"] for name in ("relay_g", "relay_up", "relay_down")]
          == ["NaN", "Infinity", "-Infinity"], f"NaN and infinities: {families}")
    check(families["relay_g"]["type"] == "gauge" and families["relay_up"]["type"] == "untyped", f"{families}")
    for line, message in BAD_METRICS.items():
        error = parsed["errors"][line]
        check(message in error and error.startswith("line "), f"{line!r} gave {error!r}, expected {message!r}")
    done("the page's parser reads Prometheus' text format strictly")

    # 15. Real dead letters: events of a workflow relay up has not loaded (no hot reload here). Three: one to
    # discard, one to redrive once the workflow is loaded, one whose payload is longer than the excerpt.
    with open(os.path.join(project, "workflows", "late.yaml"), "w") as file:
        file.write(LATE)
    payloads = {"discard": {"data": "bm8="}, "redrive": {"data": "aGk="}, "long": {"data": "x" * 2000}}
    for payload in payloads.values():
        subprocess.run([relay.relay, "events", "publish", "--dir", project, "--trigger", "late",
                        "--json", json.dumps({"json": payload})],
                       check=True, stdout=subprocess.DEVNULL, env={**os.environ, "RELAY_BROKERS": ""})

    def letters():
        return ctx.api("GET", "/dead-letters?limit=1000")["dead_letters"]

    browser.until(lambda: len(letters()) == 3, "the three events to be dead-lettered")
    by_payload = {}
    for letter in letters():
        name = next(name for name, payload in payloads.items() if json.dumps(payload, separators=(",", ":"))
                    in letter["excerpt"] or (name == "long" and len(letter["excerpt"]) == 512))
        by_payload[name] = letter
    check(set(by_payload) == set(payloads), f"the letters: {letters()}")
    for letter in by_payload.values():
        check(letter["source_topic"] == "relay.events" and "no workflow is bound" in letter["reason"], f"{letter}")
    # Restarted with the workflow there (SIGKILL: a sleeping step of an earlier check would delay a drain).
    driver.get("about:blank")
    relay.restart(browser.until, kill=True)
    driver.get(base + "/#/dead-letters")

    def card(name):
        found = driver.find_elements(By.CSS_SELECTOR, f'li[data-letter="{by_payload[name]["id"]}"]')
        return found[0] if found else None

    browser.until(lambda: all(card(name) for name in payloads), "the three dead letters listed")
    check(browser.js("return document.querySelector('nav [aria-current]').dataset.section") == "dead-letters",
          "the bar does not mark Dead letters")
    for name, letter in by_payload.items():
        text = card(name).text
        check(letter["reason"] in text and "relay.events" in text, f"the card of {name}: {text!r}")
        time = card(name).find_element(By.CSS_SELECTOR, "time")
        check(time.get_attribute("title") == letter["received_at"] and re.search(r"ago|just now", time.text),
              f"the time of {name}: {time.text!r} ({time.get_attribute('title')})")
    long_summary = card("long").find_element(By.CSS_SELECTOR, ".payload summary").text
    check("first 512 bytes" in long_summary, f"the long payload's summary: {long_summary!r}")
    # The payload, folded; opened with the keyboard: indented JSON.
    summary = card("redrive").find_element(By.CSS_SELECTOR, ".payload summary")
    check('"eventId"' in summary.text and not card("redrive").find_element(By.CSS_SELECTOR, ".payload pre")
          .is_displayed(), f"the payload is not folded: {summary.text!r}")
    browser.js("arguments[0].focus()", summary)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    browser.until(lambda: card("redrive").find_element(By.CSS_SELECTOR, ".payload pre").is_displayed(),
                  "the payload to open")
    check('"data": "aGk="' in card("redrive").find_element(By.CSS_SELECTOR, ".payload pre").text,
          "the opened payload is not indented JSON")
    # Two a page: Later letters pages with the API's `after`.
    driver.get(base + "/#/dead-letters?limit=2")
    def shown():
        return browser.js("return [...document.querySelectorAll('li[data-letter]')].map(li => li.dataset.letter)")

    ids = sorted(letter["id"] for letter in by_payload.values())
    browser.until(lambda: shown() == [str(ids[0]), str(ids[1])], "the first page of two letters")
    driver.find_element(By.CSS_SELECTOR, "[data-field=next]").click()
    browser.until(lambda: shown() == [str(ids[2])], "the second page")
    check(f"after={ids[1]}" in driver.current_url and "limit=2" in driver.current_url, driver.current_url)
    driver.get(base + "/#/dead-letters")
    browser.until(lambda: len(shown()) == 3, "the three letters again")
    done("dead letters are listed with their reason, source topic, time and payload, and paged")

    # 16. Discard, confirmed in the page, with the keyboard: the letter is gone, here and in the API.
    discard = card("discard").find_element(By.CSS_SELECTOR, "[data-action=discard]")
    browser.js("arguments[0].focus()", discard)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    browser.until(lambda: browser.js("return document.activeElement.dataset.action") == "keep",
                  "the confirmation, its Keep it focused")
    question = card("discard").find_element(By.CSS_SELECTOR, ".confirm").text
    check(f"Discard dead letter {by_payload['discard']['id']}?" in question, f"the question: {question!r}")
    browser.screenshot(shots, "dead-letters.png")
    # Escape keeps it; then Discard again, Tab to Discard it, Enter.
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    browser.until(lambda: browser.js("return document.activeElement.dataset.action") == "discard",
                  "Escape to keep the letter and focus Discard again")
    check(card("discard") is not None, "Escape discarded the letter")
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    browser.until(lambda: browser.js("return document.activeElement.dataset.action") == "keep", "the confirmation")
    ActionChains(driver).send_keys(Keys.TAB, Keys.ENTER).perform()
    discarded = by_payload["discard"]["id"]
    browser.until(lambda: card("discard") is None, "the discarded letter to leave the list")
    result = driver.find_element(By.CSS_SELECTOR, "[data-field=result]").text
    check(f"Dead letter {discarded} discarded" in result, f"the result: {result!r}")
    try:
        ctx.api("GET", f"/dead-letters/{discarded}")
        check(False, f"dead letter {discarded} is still kept")
    except urllib.error.HTTPError as error:
        check(error.code == 404, f"GET /dead-letters/{discarded}: {error.code}")
    done("Discard, confirmed in the page with the keyboard, removes the letter")

    # 17. Redrive with the keyboard: back on relay.events, where the workflow is loaded now; the result links the
    # run it starts, which succeeds (followed live).
    redrive = card("redrive").find_element(By.CSS_SELECTOR, "[data-action=redrive]")
    browser.js("arguments[0].focus()", redrive)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    redriven = by_payload["redrive"]["id"]
    browser.until(lambda: card("redrive") is None, "the redriven letter to leave the list")
    browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-field=result] .status[data-status=succeeded]"),
                  "the run the redriven event started to show succeeded")
    result = driver.find_element(By.CSS_SELECTOR, "[data-field=result]")
    check(f"Dead letter {redriven} redriven: published back to relay.events" in result.text, f"{result.text!r}")
    check(browser.js("return document.activeElement.dataset.field") == "result", "the focus is not on the result")
    late_runs = ctx.api("GET", "/runs?workflow=late")["runs"]
    check(len(late_runs) == 1 and late_runs[0]["status"] == "succeeded", f"the runs of late: {late_runs}")
    link = result.find_element(By.CSS_SELECTOR, "a[data-run]")
    check(link.get_attribute("data-run") == late_runs[0]["id"], f"the link names {link.get_attribute('data-run')}, "
          f"the run is {late_runs[0]['id']}")
    check("✓ succeeded" in result.text, f"the run's status in words: {result.text!r}")
    browser.js("arguments[0].focus()", link)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "#run-title .status[data-status=succeeded]"),
                  "the redriven event's run page")
    check(late_runs[0]["id"] in driver.current_url, driver.current_url)
    run = ctx.api("GET", f"/runs/{late_runs[0]['id']}")
    check(run["steps"][0]["output"] == {"data": "hi"}, f"the run's step: {run['steps']}")
    done("Redrive with the keyboard publishes the event again and links the run it starts")

    # 18. The overview agrees with /metrics: a failed run of late first, then a webhook's runs counted as a rate.
    http("POST", base + "/webhooks/late", body={"data": "a"})
    browser.until(lambda: [r["status"] for r in ctx.api("GET", "/runs?workflow=late")["runs"]].count("failed") == 1,
                  "a failed run of late")
    driver.get(base + "/#/overview?every=1")
    browser.until(lambda: browser.js("return Number(document.querySelector('[data-field=reads]')?.textContent)") >= 2,
                  "two reads of /metrics")
    check(browser.js("return document.querySelector('nav [aria-current]').dataset.section") == "overview",
          "the bar does not mark Overview")
    http("POST", base + "/webhooks/hook", body={"n": 7, "items": []})
    # hook and its sub-workflow helper: two runs started since the page's first read.
    browser.until(lambda: browser.js("return document.querySelector('[data-field=runs-rate]').dataset.increase")
                  == "2", "the overview to count the two runs the webhook started")
    rate = browser.js("const d = document.querySelector('[data-field=runs-rate]'); "
                      "return [d.textContent, Number(d.dataset.seconds)]")
    per_minute = 2 / rate[1] * 60
    check(rate[0] == f"{per_minute:.{1 if per_minute < 10 else 0}f} per minute", f"the rate shown: {rate}")
    last = {}

    def agrees():
        last["expected"] = expected_overview(metrics_of(base))
        last["shown"] = browser.js(SHOWN_OVERVIEW)
        last["problems"] = shown_as_expected(last["shown"], last["expected"])
        return not last["problems"]

    try:
        browser.until(agrees, "the overview to agree with /metrics")
    except Exception:
        print(f"browser-tests: the overview differs from /metrics: {last.get('problems')}")
        raise
    shown = last["shown"]
    # (relay up's counters started again at the restart: the dead letters sent before it are not counted.)
    check(shown["failed"] >= 1 and shown["dead_letters_kept"] == 1,
          f"the failures shown: {shown}")
    check(shown["runs"]["late"]["failed"] == "1", f"late's failed runs: {shown['runs'].get('late')}")
    # (Read in one script: the overview redraws its rows at every read.)
    base64_row = browser.js("return document.querySelector('tr[data-plugin=base64]').innerText")
    check(re.search(r"≤ [\d.]+ m?s", base64_row), f"the base64 row does not say ≤ a bound: {base64_row!r}")
    check(("relay.events", "relay.dispatcher") in {(t, g) for t, g, _ in shown["backlog"]}, f"{shown['backlog']}")
    browser.screenshot(shots, "overview.png")
    done("the overview agrees with /metrics, and counts runs started as a rate")

    # 19. A phone's width: the overview, the list (a long payload) and one letter with its headers fit.
    driver.set_window_size(390, 844)
    width = browser.js("return document.documentElement.scrollWidth")
    check(width <= 390, f"the overview is wider than a phone ({width} px)")
    driver.get(base + "/#/dead-letters")
    browser.until(lambda: card("long"), "the dead letter left")
    card("long").find_element(By.CSS_SELECTOR, ".payload summary").click()
    width = browser.js("return document.documentElement.scrollWidth")
    check(width <= 390, f"the dead letters are wider than a phone ({width} px)")
    browser.screenshot(shots, "dead-letters-phone.png")
    card("long").find_element(By.CSS_SELECTOR, "h2 a").click()
    browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "table.headers tr"), "the letter's headers")
    headers = driver.find_element(By.CSS_SELECTOR, "table.headers").text
    # The original message's own headers: the dispatcher's count of its looks at the unbound event.
    check("relay.unbound.tries" in headers, f"the headers: {headers!r}")
    check(driver.find_element(By.CSS_SELECTOR, "[data-action=redrive]").is_displayed(), "no Redrive on the letter")
    width = browser.js("return document.documentElement.scrollWidth")
    check(width <= 390, f"a dead letter's page is wider than a phone ({width} px)")
    done("the overview, the dead letters and one letter fit a phone's width")
    driver.set_window_size(1280, 800)
