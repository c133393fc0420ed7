"""The resumable result table shared by the studies: append as items finish, resume, settings check."""

from __future__ import annotations

import json

import pytest

from renaissance.plumbing.resumable import ResultTable, ResumeError, refuse_changed_settings, setting_changes
from renaissance.errors import RenaissanceError


def _table(path, settings=None) -> ResultTable:
    """Items (index, x) -> results (index, x squared), two rows each."""
    return ResultTable(path, ["item", "part", "value"], lambda r: [[r[0], p, r[1] * (p + 1)] for p in range(2)],
                       lambda i, rows: (i, int(rows[0][2])), key=lambda r: r[0], rows_per_item=2, settings=settings)


def _loop(todo, record):
    for i, x in todo:
        record((i, x * x))


def test_rows_are_appended_as_items_finish_and_resume_skips_them(tmp_path):
    path = tmp_path / "t.csv"
    seen = []
    finished = _table(path, {"seed": 0}).run([(3, 2), (1, 5)], _loop, on_item=seen.append)
    assert finished.results == {3: (3, 4), 1: (1, 25)} and finished.ran == 2 and seen == [(3, 4), (1, 25)]
    text = path.read_text()
    assert text == "item,part,value\n3,0,4\n3,1,8\n1,0,25\n1,1,50\n"
    assert json.loads((tmp_path / "t.settings.json").read_text()) == {"seed": 0}
    path.write_text(text[:-6])  # killed while writing item 1: its rows are dropped and it runs again
    seen.clear()
    finished = _table(path, {"seed": 0}).run([(3, 2), (1, 5), (7, 1)], _loop, resume=True, on_item=seen.append)
    assert seen == [(1, 25), (7, 1)] and finished.ran == 2 and finished.results[3] == (3, 4)
    assert path.read_text() == text + "7,0,1\n7,1,2\n"
    finished = _table(path, {"seed": 0}).run([(3, 2)], _loop)  # no resume: a new table
    assert path.read_text() == "item,part,value\n3,0,4\n3,1,8\n" and finished.ran == 1


def test_resume_with_other_settings_names_them_and_keeps_the_files(tmp_path):
    path = tmp_path / "t.csv"
    _table(path, {"seed": 0, "times": (1.0, 2.0), "solver": {"method": "BDF"}}).run([(0, 1)], _loop)
    before = path.read_text(), (tmp_path / "t.settings.json").read_text()
    with pytest.raises(ResumeError) as info:
        _table(path, {"seed": 1, "times": [1.0, 2.0], "solver": {"method": "LSODA"}}).run([(0, 1)], _loop, resume=True)
    assert str(info.value) == (f"{tmp_path}: cannot resume: settings differ from the saved run (seed 0 -> 1, "
                               "solver.method BDF -> LSODA); run without --resume to start again")
    assert isinstance(info.value, RenaissanceError)
    assert (path.read_text(), (tmp_path / "t.settings.json").read_text()) == before
    (tmp_path / "t.settings.json").write_text("{not json")
    with pytest.raises(ResumeError, match="t.settings.json: unreadable settings"):
        _table(path, {"seed": 0}).run([(0, 1)], _loop, resume=True)


def test_setting_changes():
    assert setting_changes({"a": 1, "b": {"c": "x"}}, {"a": 1.0, "b": {"c": "x"}}) == []
    assert setting_changes({"a": 1, "old": 2}, {"a": 2, "new": [0.0, 0.5, 1.0, 1.5, 2.0]}) == [
        "a 1 -> 2", "new (none) -> [0.0, 0.5, ..., 2.0] (5 values)", "old 2 -> (none)"]
    assert setting_changes({"species": ["a_e"]}, {"species": []}) == ["species ['a_e'] -> []"]
    refuse_changed_settings("dir", {"t": (1, 2)}, {"t": [1, 2]})  # the same as JSON: no error
    with pytest.raises(ResumeError, match="^dir: cannot resume: .*; use another directory$"):
        refuse_changed_settings("dir", {"t": 1}, {"t": 2}, "use another directory")
