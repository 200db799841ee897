"""A run's details (docs/ui.md's list, checks 20 to 22): a decision answered from the page, artifacts drawn safely
from hostile Markdown and HTML, the timeline of attempts with a retry, a failed step's error and log."""

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from harness import check, http, node_statuses

# Markdown and HTML an attacker could put in an event: nothing of it may run, load or link to a script.
HOSTILE_MARKDOWN = """# Findings for <b>host</b>

Some **bold**, *emphasis*, `code <i>`, ~~gone~~ and a [safe link](https://example.com/a "A title").
A [script link](javascript:alert(1)) and [data](data:text/html,<script>x</script>) stay text.
<script>window.__pwned = "markdown script"</script>
<img src=x onerror="window.__pwned = 'markdown img'">
![tracker](https://tracker.example/p.png)

| host | score |
|:-----|------:|
| a.example | 10 |
| b\\|c | 2 |

- one
- two
  - nested
1. first
2. second

> quoted *text*

```
<script>in a code block</script>
```
"""
HOSTILE_HTML = """<h1>Page</h1><p onclick="window.__pwned='onclick'">Para <b>bold</b>
<a href="javascript:window.__pwned='href'">js link</a> <a href="https://example.com/b">ok link</a></p>
<script>window.__pwned = 'html script'</script><style>body { display: none }</style>
<img src="x" onerror="window.__pwned='html img'"><iframe src="https://example.com"></iframe>
<svg onload="window.__pwned='svg'"><script>window.__pwned='svg script'</script></svg>
<form action="https://example.com"><input name="q"></form><table><tr><td colspan="2">cell</td></tr></table>"""


def checks(ctx):
    browser, driver, base, shots, done = ctx.browser, ctx.driver, ctx.base, ctx.shots, ctx.done
    driver.set_window_size(1280, 800)

    # 20. A decision waits: its question and one button per option; answering from the page moves the run on.
    http("POST", base + "/webhooks/decide", body={"host": "db-7", "markdown": HOSTILE_MARKDOWN, "html": HOSTILE_HTML})
    run_id = browser.until(lambda: ctx.api("GET", "/runs?workflow=decide")["runs"], "the decide run")[0]["id"]
    driver.get(f"{base}/#/runs/{run_id}")
    browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, '.decision[data-step="ask"] button'),
                  "the decision's buttons")
    question = driver.find_element(By.CSS_SELECTOR, '.decision[data-step="ask"] .question').text
    check(question == "Block db-7?", f"the question shown: {question!r}")
    options = [button.text for button in driver.find_elements(By.CSS_SELECTOR, ".decision button")]
    check(options == ["Block", "Ignore"], f"the options: {options}")
    check(node_statuses(browser).get("ask") == "running", f"ask is not running: {node_statuses(browser)}")
    link = driver.find_element(By.CSS_SELECTOR, "[data-field=facts] a[href='#/workflows/decide']")
    check(link.text == "decide", f"the workflow's link: {link.text!r}")
    browser.screenshot(shots, "run-decision.png")
    driver.find_element(By.CSS_SELECTOR, "[data-field=answered-by]").send_keys("alice")
    # With the keyboard: focus the option, press Enter.
    block = driver.find_element(By.CSS_SELECTOR, '.decision button[data-option="Block"]')
    browser.js("arguments[0].focus()", block)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "#run-title .status[data-status=succeeded]"),
                  "the run to succeed once answered")
    check(driver.find_element(By.CSS_SELECTOR, "[data-field=decisions-section]").get_attribute("hidden") is not None,
          "the decision is still shown on a finished run")
    output = next(step for step in ctx.api("GET", f"/runs/{run_id}")["steps"] if step["step"] == "ask")["output"]
    check(output["option"] == "Block" and output["answered_by"] == "alice", f"ask's output: {output}")
    done("a decision shows its question and options; answering from the page moves the run on")

    # 21. The artifacts, drawn from hostile Markdown and HTML: their text shows, nothing of them runs or loads.
    browser.until(lambda: len(driver.find_elements(By.CSS_SELECTOR, ".artifact")) == 2, "the two artifacts")
    report = driver.find_element(By.CSS_SELECTOR, '.artifact[data-artifact="report"] .artifact-body')
    page = driver.find_element(By.CSS_SELECTOR, '.artifact[data-artifact="page"] .artifact-body')
    check(browser.js("return window.__pwned === undefined"), f"a script ran: {browser.js('return window.__pwned')}")
    for body in (report, page):
        tags = browser.js("return [...arguments[0].querySelectorAll('*')].map(e => e.localName)", body)
        bad = {"script", "style", "img", "iframe", "svg", "form", "input"} & set(tags)
        check(not bad, f"elements that must not be there: {bad}")
        handlers = browser.js("return [...arguments[0].querySelectorAll('*')].flatMap(e => [...e.attributes])"
                              ".map(a => a.name).filter(n => n.startsWith('on') || n === 'style')", body)
        check(not handlers, f"attributes that must not be there: {handlers}")
        hrefs = browser.js("return [...arguments[0].querySelectorAll('a')].map(a => a.getAttribute('href'))", body)
        check(all(href.startswith(("https:", "http:", "mailto:")) for href in hrefs), f"links: {hrefs}")
    # Markdown: what it says is drawn, raw HTML is shown as text.
    check(browser.js("return arguments[0].querySelector('h4').textContent", report) == "Findings for <b>host</b>",
          "the heading")
    for selector, text in [("strong", "bold"), ("em", "emphasis"), ("code", "code <i>"), ("del", "gone"),
                           ("a[href='https://example.com/a']", "safe link"), ("blockquote em", "text"),
                           ("ul ul li", "nested"), ("ol li", "first"), ("pre code", "<script>in a code block</script>"),
                           ("td.align-right", "10"), ("tbody tr:nth-child(2) td", "b|c")]:
        found = browser.js("const e = arguments[0].querySelector(arguments[1]); return e && e.textContent",
                           report, selector)
        check(found == text, f"markdown {selector}: {found!r}, expected {text!r}")
    check("<script>window.__pwned" in report.text and "javascript:alert(1)" not in
          browser.js("return [...arguments[0].querySelectorAll('a')].map(a => a.href).join(' ')", report),
          f"the raw script is not shown as text, or a javascript: link was made: {report.text[:600]!r}")
    check("image: tracker" in report.text, "the image is not shown as a link")
    check("Decided: Block by alice." in report.text, f"the report's end: {report.text[-80:]!r}")
    # HTML: kept elements, headings moved down, nothing else.
    check(browser.js("return arguments[0].querySelector('h4').textContent", page) == "Page", "the HTML heading")
    check(browser.js("return arguments[0].querySelector('td').getAttribute('colspan')", page) == "2", "colspan")
    links = browser.js("return [...arguments[0].querySelectorAll('a')].map(a => a.textContent)", page)
    check(links == ["ok link"], f"the HTML's links: {links}")
    resources = browser.js("return performance.getEntriesByType('resource').map(r => r.name)"
                           ".filter(n => !n.startsWith(location.origin))")
    check(not resources, f"the page loaded from elsewhere: {resources}")
    browser.js("document.querySelector('.artifacts').scrollIntoView()")
    browser.screenshot(shots, "run-artifacts.png")
    done("artifacts: Markdown and HTML drawn as the page's own elements; nothing in them runs or loads")

    # 21b. Hostile shapes of Markdown end (the work is linear; nesting is cut) and keep their text: unclosed
    # delimiters, brackets without links, deep quotes and lists, a megabyte of one character.
    results = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import("/ui/markdown.js").then(({ renderMarkdown, renderHTML }) => {
          const cases = {
            brackets: "[](".repeat(100000), stars: "*a ".repeat(100000), ticks: "a" + "`".repeat(100000) + "b`c``d",
            underscores: "_a".repeat(100000), links: "[a](b c ".repeat(50000), quotes: ">".repeat(5000) + " deep",
            lists: Array.from({ length: 2000 }, (_, i) => " ".repeat(i % 13) + "- item").join("\\n"),
            one: "x".repeat(1 << 20), html: "<div>".repeat(5000) + "deep" + "<b onclick=x>".repeat(5000),
          };
          const out = {};
          for (const [name, text] of Object.entries(cases)) {
            const box = document.createElement("div");
            box.append(name === "html" ? renderHTML(text) : renderMarkdown(text));
            out[name] = box.textContent.length;
          }
          done(out);
        }, (error) => done({ error: String(error) }));
    """)
    check("error" not in results and all(length > 0 for length in results.values()), f"hostile Markdown: {results}")
    check(results["one"] == 1 << 20 and results["brackets"] == 300000, f"text lost: {results}")
    done("hostile Markdown and HTML end, and keep their text")

    # 22. A step that fails and is retried: both attempts on the timeline, the failed node, its error and log.
    http("POST", base + "/webhooks/flaky", body={"data": "not base64!"})
    flaky = browser.until(lambda: ctx.api("GET", "/runs?workflow=flaky")["runs"], "the flaky run")[0]["id"]
    driver.get(f"{base}/#/runs/{flaky}")
    browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "#run-title .status[data-status=failed]"),
                  "the flaky run to fail")
    browser.until(lambda: node_statuses(browser) == {"decode": "failed", "after": "not_run"},
                  f"the flaky run's nodes ({node_statuses(browser)})")
    rows = browser.js("return [...document.querySelectorAll('tr[data-attempt]')].map(row => ({key: "
                      "row.dataset.attempt, status: row.dataset.status, timeline: "
                      "row.querySelector('td.timeline').innerText, bars: row.querySelectorAll('.span-ran').length, "
                      "waits: row.querySelectorAll('.span-wait').length}))")
    check([row["key"] for row in rows] == ["decode#1", "decode#2"], f"the attempts: {rows}")
    check(all(row["status"] == "failed" and row["bars"] == 1 for row in rows), f"the attempts' bars: {rows}")
    check("retry 1" in rows[1]["timeline"] and rows[1]["waits"] == 1, f"the retry's wait is not shown: {rows[1]}")
    check("started at +" in rows[0]["timeline"] and "ran " in rows[0]["timeline"], f"the words: {rows[0]}")
    driver.find_element(By.CSS_SELECTOR, 'tr[data-attempt="decode#2"] button').click()
    browser.until(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-field=step-detail] .step-log"),
                  "the step's log")
    detail = driver.find_element(By.CSS_SELECTOR, "[data-field=step-detail]")
    check("valid base64 input was not provided" in detail.text, f"the error: {detail.text[:300]!r}")
    log = driver.find_element(By.CSS_SELECTOR, "[data-field=step-detail] details[open] .step-log")
    log.find_element(By.TAG_NAME, "summary").click()
    browser.until(lambda: "An error has occurred while decoding" in log.text, "the log's text once unfolded")
    browser.js("document.querySelector('table.attempts').scrollIntoView({block: 'center'})")
    browser.screenshot(shots, "run-failed.png")
    done("a failed, retried step: both attempts on the timeline, its error and its log")
