"""The browser half of Tests/scripts/test_browser.bash: headless Chromium driven by Selenium.

Loads the home page, fills and submits the form, follows the short URL to a page served
locally and checks the browser arrived; submits a taken name and checks the error is said in
words with the form refilled; loads the dashboard and checks every node is listed. Saves a
screenshot of each page in SHOT_DIR.

Usage: browser_check.py PROXY_URL LANDING_URL SHOT_DIR NODE_ADDRESS...
"""
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

proxy, landing, shots = sys.argv[1], sys.argv[2], sys.argv[3]
nodes = sys.argv[4:]


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1000,760"):
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 15)
try:
    print("--- the home page, and its form")
    driver.get(proxy + "/")
    if driver.title != "Shorten a link":
        fail("the home page's title is " + repr(driver.title))
    driver.save_screenshot(shots + "/home.png")
    driver.set_window_size(390, 760)
    driver.save_screenshot(shots + "/home-phone.png")
    width = driver.execute_script("return document.documentElement.scrollWidth")
    if width > 390:
        fail("the home page is %d px wide on a 390 px phone screen" % width)
    driver.set_window_size(1000, 760)

    driver.find_element(By.ID, "long").send_keys(landing)
    driver.find_element(By.ID, "shorten").click()
    wait.until(lambda d: d.title == "Your short link is ready")
    short_url = driver.find_element(By.ID, "url").get_attribute("value")
    if not short_url.startswith(proxy + "/") or len(short_url) != len(proxy) + 8:
        fail("the short URL is " + repr(short_url))
    if driver.find_element(By.ID, "long").get_attribute("href") != landing:
        fail("the created page does not lead to the long URL")
    driver.find_element(By.ID, "copy").click()
    wait.until(lambda d: d.find_element(By.ID, "copy").text == "Copied")
    driver.save_screenshot(shots + "/created.png")
    print("made " + short_url)

    print("--- following the short URL")
    driver.get(short_url)
    wait.until(lambda d: d.current_url == landing)
    if driver.find_element(By.TAG_NAME, "h1").text != "Arrived":
        fail("the landing page did not load")

    print("--- a taken name: the error in words, the form refilled")
    name = short_url.rsplit("/", 1)[1]
    driver.get(proxy + "/")
    driver.find_element(By.ID, "long").send_keys("https://example.com/someone/else")
    driver.find_element(By.ID, "short").send_keys(name)
    driver.find_element(By.ID, "shorten").click()
    wait.until(lambda d: d.title == "The link was not made")
    error = driver.find_element(By.ID, "error").text
    if "taken" not in error or name not in error:
        fail("the error says " + repr(error))
    if driver.find_element(By.ID, "long").get_attribute("value") != "https://example.com/someone/else":
        fail("the form was not refilled")
    driver.save_screenshot(shots + "/error.png")
    driver.get(short_url)
    wait.until(lambda d: d.current_url == landing)

    print("--- the dashboard lists every node")
    driver.set_window_size(1280, 820)
    driver.get(proxy + "/_/")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr[data-node]")) == len(nodes))
    listed = sorted(row.get_attribute("data-node") for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-node]"))
    if listed != sorted(nodes):
        fail("the dashboard lists %s, the hosts file %s" % (listed, sorted(nodes)))
    for _ in range(20):  # a few loads through the proxy, so the rates and percentiles show numbers
        driver.execute_script("for (var i = 0; i < 50; i++) fetch(arguments[0], {redirect: 'manual'})", short_url)
        time.sleep(0.15)
    wait.until(lambda d: d.find_element(By.ID, "c-p50").text.split("\n")[-1] != "–")
    time.sleep(1.6)
    states = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "tr[data-node] td:nth-child(2)")]
    if states != ["up"] * len(nodes):
        fail("node states on the dashboard: %s" % states)
    if not driver.find_element(By.ID, "moves").get_attribute("hidden"):
        fail("the moves section shows although /_/status has no moves")
    driver.save_screenshot(shots + "/dashboard.png")
    print("ok")
finally:
    driver.quit()
