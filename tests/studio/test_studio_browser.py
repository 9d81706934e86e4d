"""The studio in a real browser: Debian's headless Chromium driven by selenium (`.ci/run` installs both).

Upload Happy Birthday, keep the style on Bach, generate; then the first candidate's player holds a WAV as long
as the music plus its release, the engraved score shows every bar, and the downloaded MIDI is byte for byte
the one the command line writes with the same settings and seed. A corrupt upload is one message in the
page. Without Chromium the test is skipped, unless MST_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""
from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from pathlib import Path

import pytest
from symusic import Score

from styletransfer.render.audio import RELEASE_SECONDS
from styletransfer.render.score import to_music21
from styletransfer.transfer.pipeline import TransferRequest, run_transfer

ROOT = Path(__file__).resolve().parents[2]
HAPPY_BIRTHDAY = ROOT / "data" / "melodies" / "happy_birthday.mid"
SHIPPED = ROOT / "styletransfer" / "pretrained" / "default"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
CHROME_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,2400"]

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("MST_REQUIRE_BROWSER") == "1":
        raise RuntimeError("MST_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed")
    pytest.skip("needs Debian's chromium and chromium-driver", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import ElementClickInterceptedException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    out = tmp_path_factory.mktemp("studio")
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "styletransfer", "studio", "--port", str(port), "--out",
                             str(out / "files"), "--base", str(SHIPPED)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("the studio did not start")
        print(f"\nstudio: first page after {time.perf_counter() - started:.1f} s")
        yield url, out / "files"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def click(driver, selector: str) -> bool:
    """Click like a user once nothing covers the element: on a busy machine Gradio's layout is still
    settling (a block's entry transition) when the button first appears, and the click lands on it."""
    element = driver.find_element(By.CSS_SELECTOR, selector)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    try:
        element.click()
    except ElementClickInterceptedException:
        return False
    return True


def upload_and_generate(driver, url: str, melody: Path, wait_s: float = 300):
    driver.get(url)
    wait = WebDriverWait(driver, 60)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#upload input[type=file]")))
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(melody))
    wait.until(lambda d: melody.stem in d.find_element(By.ID, "upload").text)  # the page breaks the name at its suffix
    started = time.perf_counter()
    wait.until(lambda d: click(d, "#generate"))
    WebDriverWait(driver, wait_s).until(
        lambda d: "candidates shown" in d.find_element(By.ID, "status").text
        or "Could not" in d.find_element(By.ID, "status").text)
    return time.perf_counter() - started


def test_studio_harmonizes_happy_birthday_like_the_cli(studio, browser, tmp_path):
    url, files = studio
    seconds = upload_and_generate(browser, url, HAPPY_BIRTHDAY)
    status = browser.find_element(By.ID, "status").text
    assert "johann-sebastian-bach" in status and "seed 0" in status, status
    # the player (wavesurfer) holds the WAV in an audio element inside its shadow root
    player = ("return Array.from(document.querySelectorAll('#audio-1 *')).filter(e => e.shadowRoot)"
              ".flatMap(e => Array.from(e.shadowRoot.querySelectorAll('audio'))).map(a => a.duration)[0] || null")
    duration = WebDriverWait(browser, 60).until(lambda d: d.execute_script(player))
    print(f"studio: generate -> playable audio in {seconds:.1f} s")

    # the same request on the command line's pipeline
    cli = run_transfer(TransferRequest(HAPPY_BIRTHDAY, "bach", base=str(SHIPPED), seed=0, out=tmp_path / "cli.mid"))
    expected = Score(str(cli.files.midi))

    length = expected.to("second").end() + RELEASE_SECONDS
    assert duration == pytest.approx(length, abs=0.05)
    src = browser.find_element(By.CSS_SELECTOR, "#audio-1 a[download]").get_attribute("href")  # the same file
    with wave.open(io.BytesIO(fetch(src))) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(length, abs=0.01)

    bars = len(to_music21(expected).parts[0].getElementsByClass("Measure"))
    assert bars == 9  # Happy Birthday: the pickup and eight bars
    assert browser.execute_script("return document.querySelectorAll('#score-svg g.measure').length") == bars

    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#downloads a[href]")]
    midi = [h for h in links if ".mid" in h.split("?")[0]]
    assert midi and fetch(midi[0]) == cli.files.midi.read_bytes()
    assert any(".musicxml" in h for h in links) and any(".wav" in h for h in links)

    shot = os.environ.get("MST_STUDIO_SCREENSHOT")
    browser.save_screenshot(shot or str(tmp_path / "studio.png"))
    for path in files.rglob("*"):  # the server wrote only inside its folder (checked from the other side too)
        assert path.resolve().is_relative_to(files.resolve())


def test_a_corrupt_upload_is_one_message_in_the_page(studio, browser, tmp_path):
    url, _ = studio
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    upload_and_generate(browser, url, bad, wait_s=60)
    status = browser.find_element(By.ID, "status").text
    assert status.startswith("Could not harmonize:") and "Traceback" not in browser.page_source
    assert len(status.splitlines()) == 1
