"""The HTML report in a real browser: headless Chromium opens it and takes a screenshot.

The screenshot is decoded here (zlib and struct, no imaging library) and must
show a page: many distinct colours and a fair share of pixels that are not
the background. A blank or failed render is one colour.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it). Without it
the test is skipped, unless the environment variable ``CI`` is set: CI must
run it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest
from browser import decode_png

from hipkb import api
from hipkb.knowledge.resources import example_cases

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 1200, 1600


def chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed, and CI must run the browser test (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium); CI installs it and runs this test")


def screenshot(html: Path, png: Path, profile: Path) -> None:
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}",
        html.resolve().as_uri(),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert png.exists(), f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _encode(rows: list[bytes], kinds: list[int], bpp: int = 3) -> bytes:
    """Filter rows the way a PNG encoder does (types 0 to 4), for the decoder's own test."""
    out, previous = bytearray(), bytes(len(rows[0]))
    for row, kind in zip(rows, kinds, strict=True):
        out.append(kind)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) >> 1, _paeth(a, b, c)][kind]
            out.append((x - pred) & 0xFF)
        previous = row
    return bytes(out)


@pytest.mark.parametrize("kinds", [[0, 0, 0], [1, 2, 3], [4, 4, 4], [3, 1, 4]])
def test_png_decoder_reads_every_filter(kinds):
    rows = [bytes([255, 0, 0, 0, 255, 0]), bytes([0, 0, 255, 255, 255, 255]), bytes([10, 200, 30, 40, 50, 250])]
    ihdr = struct.pack(">IIBBBBB", 2, 3, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    idat = zlib.compress(_encode(rows, kinds))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    expected = [row[i:i + 3] for row in rows for i in (0, 3)]
    assert decode_png(png) == (2, 3, expected)


def test_html_report_renders_in_headless_chromium(tmp_path):
    chromium()
    kb = api.load_kb()
    reasoner = api.reasoner_for(kb)
    # The richest example: the one with the most conclusions to draw.
    cases = [api.load_case(p, kb) for p in example_cases()]
    case = max(cases, key=lambda c: (len(api.run_case(reasoner, c)["fired"]), c.case_id))
    html = tmp_path / "report.html"
    html.write_text(api.report(reasoner, case, "html", audience="educator"), encoding="utf-8")
    png = tmp_path / "shot.png"
    screenshot(html, png, tmp_path / "profile")
    width, height, pixels = decode_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    counts = Counter(pixels)
    _, most = counts.most_common(1)[0]
    share = 1 - most / len(pixels)
    assert len(counts) >= 32, f"only {len(counts)} colours: a blank or failed page"
    assert share >= 0.05, f"only {share:.1%} of the page differs from its background"
    # The page has coloured elements (badges, the body map, the graph), not just grey text.
    assert any(abs(p[0] - p[1]) > 60 or abs(p[1] - p[2]) > 60 for p in counts)


def test_blank_page_is_recognised_as_blank(tmp_path):
    # The check above must be able to fail: an empty page gives one colour.
    chromium()
    html = tmp_path / "blank.html"
    html.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    png = tmp_path / "blank.png"
    screenshot(html, png, tmp_path / "profile")
    _, _, pixels = decode_png(png.read_bytes())
    assert len(Counter(pixels)) < 32
