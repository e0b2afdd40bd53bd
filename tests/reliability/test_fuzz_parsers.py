"""scripts/fuzz_parsers.py for ~2 s: every malformed input parses or raises the documented error."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_parsers.py"


def _load():
    spec = importlib.util.spec_from_file_location("fuzz_parsers", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fuzz_parsers_two_seconds(capsys) -> None:
    mod = _load()
    assert mod.main(["--max-seconds", "2", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "failures: 0" in out
    tried = int(out.split("inputs tried: ")[1].split(",")[0])
    assert tried >= 60  # it really ran (all targets, several rounds)
    assert "rejected=0" not in out  # every target saw inputs it had to reject
    for target in ("dota_text_agree", "dota_task1_agree", "dota_imageset", "dota_write_read"):
        assert target in out  # the shared DOTA text reader is fuzzed


def test_fuzz_oracle_catches_a_broken_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # The agreement oracle must be able to fail: a Task1 fast path that loses the last row is caught.
    mod = _load()
    import gghl.data.dota_task1 as t1

    real = t1._fast

    def lossy(text, lines):
        rows = real(text, lines)
        if rows is None or len(rows) < 2:
            return rows
        return t1.Task1Rows(rows.images[:-1], rows.scores[:-1], rows.polys[:-1], rows.line_no[:-1])

    monkeypatch.setattr(t1, "_fast", lossy)
    _, failures, stats = mod.fuzz(30, 60, seed=0, verbose=False, targets=["dota_task1_agree"])
    assert failures > 0 and stats["dota_task1_agree"]["failed"] == failures
