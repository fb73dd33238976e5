"""Drives the playground page in headless Chromium (Debian's chromium and chromedriver) as a
user would: pick Python, run a program with stdin and read its output, judge it against
tests and watch the results arrive, then find the submission on the queue page.

Usage: playground.py BASE_URL SCREENSHOT_DIR. Prints one line per step; exits non-zero on the
first step that does not hold.
"""

import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

base, shots = sys.argv[1], sys.argv[2]

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1400"):
    options.add_argument(arg)
# The driver is Debian's: nothing is looked up or downloaded.
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 60)


def by_id(name):
    return driver.find_element(By.ID, name)


def fill(name, text):
    # Set the value as a paste would (send_keys would type it key by key).
    driver.execute_script("arguments[0].value = arguments[1];", by_id(name), text)


def step(name):
    print("ok", name, flush=True)


try:
    driver.get(base + "/")
    wait.until(lambda d: any(o.get_attribute("value") == "python3" for o in Select(by_id("language")).options))
    Select(by_id("language")).select_by_value("python3")
    step("languages listed")

    fill("source", "import sys\nname = sys.stdin.read().strip()\nprint('hello, ' + name)\n")
    fill("stdin", "browser")
    by_id("run").click()
    wait.until(lambda d: "accepted" in by_id("run-status").text or "error" in by_id("run-status").text)
    assert by_id("stdout").text == "hello, browser", repr(by_id("stdout").text)
    assert by_id("run-status").text.startswith("accepted"), by_id("run-status").text
    step("run: " + by_id("stdout").text + " / " + by_id("run-status").text)

    fill("source", "a, b = map(int, input().split())\nprint(a + b)\n")
    fill("tests", "1 2\n---\n3\n===\n10 20\n---\n31\n===\n5 5\n---\n10")
    by_id("judge").click()
    wait.until(lambda d: by_id("verdict").text in ("accepted", "wrong_answer"))
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")] for tr in by_id("results").find_elements(By.TAG_NAME, "tr")]
    assert by_id("verdict").text == "wrong_answer", by_id("verdict").text
    assert [(r[0], r[1]) for r in rows] == [("1", "accepted"), ("2", "wrong_answer"), ("3", "accepted")], rows
    step("judge: " + by_id("verdict").text + " " + str([(r[0], r[1]) for r in rows]))
    driver.save_screenshot(os.path.join(shots, "playground.png"))

    driver.get(base + "/queue")
    wait.until(lambda d: "wrong_answer" in by_id("recent").text)
    assert "workers busy: 0 of 2" in by_id("gauges").text, by_id("gauges").text
    step("queue: " + by_id("gauges").text)
    driver.save_screenshot(os.path.join(shots, "queue.png"))
except Exception:
    driver.save_screenshot(os.path.join(shots, "failure.png"))
    raise
finally:
    driver.quit()
