"""What the browser and PDF tests share: Debian's Chromium and its driver, the app served, PDFs and PNGs read back.

Nothing is downloaded: Selenium is given Debian's chromedriver
(``/usr/bin/chromedriver``, package ``chromium-driver``), so Selenium Manager
never runs, and Chromium runs with its background networking off. Without
chromium or chromedriver (or WeasyPrint, for a PDF) a test is skipped with
what to install, unless ``CI`` is set: CI must run it.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")
WAIT = 20.0  # seconds any wait here gives up after


def browser_paths() -> tuple[str, str]:
    """Debian's chromium and chromedriver, or a skip (a failure under CI) naming what to install."""
    chromium = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    driver = shutil.which("chromedriver") or (CHROMEDRIVER if Path(CHROMEDRIVER).exists() else None)
    if chromium and driver:
        return chromium, driver
    missing = " and ".join(n for n, p in (("chromium", chromium), ("chromedriver", driver)) if not p)
    if os.environ.get("CI"):
        pytest.fail(f"{missing} not installed, and CI must run the browser test "
                    "(apt-get install chromium chromium-driver)")
    pytest.skip(f"{missing} not installed (apt-get install chromium chromium-driver); CI runs this test")


@contextlib.contextmanager
def serve(kb):
    """The app for *kb* on 127.0.0.1, a free port, in a thread; stopped on leaving."""
    import uvicorn

    from hipkb.web.app import LOOPBACK_HOSTS, create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(kb, allowed_hosts=LOOPBACK_HOSTS)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + WAIT
        while not instance.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=WAIT)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not stop"


def wait(predicate, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and one bytes object per pixel of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert header is not None, "no IHDR chunk"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG layout {header}"
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    previous = bytearray(stride)
    pixels: list[bytes] = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        else:
            assert kind == 0, f"unknown PNG filter {kind}"
        pixels.extend(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
        previous = line
    return width, height, pixels


def weasyprint_or_skip() -> None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as error:
        if os.environ.get("CI"):
            pytest.fail(f"WeasyPrint does not load ({error}); CI installs it (pip install '.[test]', Pango)")
        pytest.skip(f"WeasyPrint does not load ({error}): pip install 'hipkb[pdf]'")


def page_texts(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(data)).pages]
