"""``imports.jsonl``: the trace directory lists every module the recorded program loaded, on
which thread, nested how, for how long, and whether it failed (recorder/formats/imports.py).
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List

from conftest import write_tree
from test_cli import run_plain, run_recorded

PROGRAM = {
    "app.py": """
        import threading
        import shop
        try:
            import broken
        except ValueError as exc:
            print("caught", exc)

        def worker():
            import shop.late

        t = threading.Thread(target=worker)
        t.start()
        t.join()
    """,
    "shop/__init__.py": "from shop import cart\n",
    "shop/cart.py": "ITEMS = []\n",
    "shop/late.py": "LATE = True\n",
    "broken.py": "raise ValueError('no such thing')\n",
}


def imports(out: str) -> List[Dict[str, Any]]:
    with open(os.path.join(out, "imports.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_imports_are_listed_with_nesting_thread_timing_and_failure(tmp_path: Any,
                                                                    backend: str) -> None:
    write_tree(tmp_path, PROGRAM)
    plain = run_plain(tmp_path, ["app.py"])
    done = run_recorded(tmp_path, ["app.py"], options=("--backend", backend))
    assert (done.returncode, done.stdout, done.stderr) == (plain.returncode, plain.stdout,
                                                          plain.stderr)
    out = str(tmp_path / "trace-out")
    lines = imports(out)
    mine = {line["module"]: line for line in lines
            if line["module"] in ("shop", "shop.cart", "shop.late", "broken")}
    assert sorted(mine) == ["broken", "shop", "shop.cart", "shop.late"]
    shop, cart, late, broken = (mine[m] for m in ("shop", "shop.cart", "shop.late", "broken"))
    assert shop["origin"] == str(tmp_path / "shop" / "__init__.py")
    assert (shop["depth"], cart["depth"], shop["ok"], cart["ok"]) == (0, 1, True, True)
    # the nested import ends first and lies within its parent's time
    names = [line["module"] for line in lines]
    assert names.index("shop.cart") < names.index("shop")
    assert shop["start"] <= cart["start"]
    assert cart["start"] + cart["duration"] <= shop["start"] + shop["duration"] + 1e-6
    assert (broken["ok"], broken["error"]) == (False, "ValueError: no such thing")
    assert shop["thread"] == 1 and late["thread"] == 2 and late["depth"] == 0
    for line in lines:
        assert line["duration"] is not None and line["duration"] >= 0
    with open(os.path.join(out, "trace_metadata.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    assert meta["imports"] == {"file": "imports.jsonl", "count": len(lines)}


def test_no_import_no_file(tmp_path: Any) -> None:
    write_tree(tmp_path, {"app.py": "print(sum(range(10)))\n"})
    done = run_recorded(tmp_path, ["app.py"])
    assert (done.returncode, done.stdout) == (0, "45\n")
    out = tmp_path / "trace-out"
    assert not (out / "imports.jsonl").exists()
    with open(str(out / "trace_metadata.json"), encoding="utf-8") as fh:
        assert json.load(fh)["imports"] == {"file": None, "count": 0}


def test_values_none_writes_the_error_type_only(tmp_path: Any) -> None:
    write_tree(tmp_path, PROGRAM)
    run_recorded(tmp_path, ["app.py"], options=("--values", "none"))
    broken = [line for line in imports(str(tmp_path / "trace-out"))
              if line["module"] == "broken"]
    assert [b["error"] for b in broken] == ["ValueError"]
