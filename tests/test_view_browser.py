"""``python -m recorder view`` in a real browser: headless Chromium loads the page, which must
draw the expected functions, and a real mouse click on a variable must show its history.

Chromium comes from the system packages (``apt-get install chromium``; ``.ci/run`` installs
it). A missing browser fails this test: it never skips. The screenshot of the page is kept in
the test's tmp dir (``view.png``), for CI to collect as an artifact.
"""
from __future__ import annotations

from typing import Any, List

import pytest

from chromium import Chromium, find_chromium
from test_inspect import APP, LINE_TOTAL_SET, SHAPES, ok, rec


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: Any) -> Any:
    root = tmp_path_factory.mktemp("view")
    (root / "app.py").write_text(APP)
    (root / "shapes.py").write_text(SHAPES)
    ok(rec(root, "app.py"))
    ok(rec(root, "view", "trace-out", "-o", "view.html"))
    return root / "view.html"


def _texts(page: Any, selector: str, what: str = "textContent") -> List[str]:
    return page.evaluate("Array.from(document.querySelectorAll(%r)).map(function (e) "
                         "{ return e.%s; })" % (selector, what))


def test_the_page_draws_the_calls_and_a_click_shows_a_variables_history(page_file, tmp_path):
    if find_chromium() is None:
        pytest.fail("Chromium is missing: install it (apt-get install chromium; .ci/run does) "
                    "or set RECORDER_CHROMIUM to its path")
    with Chromium(str(tmp_path / "profile")) as browser:
        page = browser.open(page_file.as_uri())
        page.wait_for("window.recorderViewReady === true")
        # everything is inline: the page fetched nothing
        assert page.evaluate("performance.getEntriesByType('resource').length") == 0
        assert page.evaluate("document.getElementById('flame-metric').textContent") == (
            "(width: time)")
        assert {"<toplevel>", "<__main__>", "main"} <= set(_texts(page, ".fl-node",
                                                                   "dataset.name"))
        # by number of calls every function is wide enough to be drawn (by time, the
        # shortest may be under a pixel)
        page.click("#flame-by-calls")
        page.wait_for("document.getElementById('flame-metric').textContent"
                      ".indexOf('calls') > 0")
        flame = set(_texts(page, ".fl-node", "dataset.name"))
        assert flame >= {"<toplevel>", "<__main__>", "main", "accumulate", "catches", "check",
                         "fail", "Box.__init__", "Box.area", "worker"}
        assert page.evaluate("document.getElementById('title').textContent") == "app.py"
        rows = _texts(page, ".tree-row .fn")
        assert {"main", "accumulate", "catches", "worker"} <= set(rows)
        assert page.evaluate("document.querySelectorAll('#history-table').length") == 0

        page.click("button.var-name[data-name='total']")
        page.wait_for("document.querySelectorAll('#history-table tr.hist-row').length > 0")
        values = _texts(page, "#history-table tr.hist-row td:last-child")
        assert values == ["0", "1", "3", "6", "0", "1", "3"]
        first = page.evaluate("Array.from(document.querySelector('#history-table tr.hist-row')"
                              ".children).map(function (td) { return td.textContent; })")
        assert first[1] == "app.py:%d" % LINE_TOTAL_SET and first[2].startswith("accumulate #")
        assert page.evaluate("document.getElementById('history-title').textContent") == (
            "total: 7 change(s)")
        assert _texts(page, "button.var-name.picked", "dataset.name") == ["total"]

        # a name among a call's arguments in the call tree shows its history too
        page.click(".var-link[data-name='n']")
        page.wait_for("document.getElementById('history-title').textContent"
                      ".indexOf('n:') === 0")
        # accumulate(n=4), catches(n=3), and the thread's accumulate(n=3)
        assert _texts(page, "#history-table tr.hist-row td:last-child") == [
            "4   [argument]", "3   [argument]", "3   [argument]"]

        # a click on a box of the flame chart zooms into it
        page.click(".fl-node[data-name='catches']")
        page.wait_for("document.getElementById('flame-path').textContent.indexOf('catches') > 0")
        assert set(_texts(page, ".fl-node", "dataset.name")) == {"catches", "check"}
        page.click("#flame-reset")
        page.screenshot(str(tmp_path / "view.png"))
    with open(str(tmp_path / "view.png"), "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
