"""The grader's parts on their own: the wire, the table of trusted checks, review flags, labels, the sandbox."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import nbformat
import numpy as np
import pytest
import torch

from labs_helpers.errors import LabsError
from labs_helpers.instructor import grade, wire
from labs_helpers.instructor.kernel import _rebuilt, _reply
from labs_helpers.instructor.sandbox import Limits, choose, descendants, kill_descendants
from labs_helpers.instructor.student_edition import assignment_notebooks, grading
from labs_helpers.instructor.submissions import find
from labs_helpers.instructor.trusted_checks import CHECKS, library_uses, review_note
from labs_helpers.settings import KIT_ROOT


def through(value, refs=None):
    """``value`` sent over the wire and read back, as the grader reads the kernel's reply."""
    return wire.decode(wire.loads(wire.dumps(wire.encode(value, refs))))


def test_tensors_arrays_and_containers_cross_the_wire_unchanged():
    logits = torch.tensor([[1.5, -math.inf], [0.0, 2.0]])
    back = through({"t": logits, "a": np.arange(6).reshape(2, 3), "pair": (1, "x"), "n": [None, True, 2.5]})
    assert torch.equal(back["t"], logits) and back["t"].dtype == torch.float32
    assert isinstance(back["a"], np.ndarray) and back["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["pair"] == (1, "x") and back["n"] == [None, True, 2.5]
    assert through(torch.ones(2, dtype=torch.bfloat16)).dtype == torch.bfloat16
    assert through(np.float64(0.25)) == 0.25 and math.isnan(through(float("nan")))


def test_what_the_wire_cannot_carry_comes_back_as_a_description():
    back = through(object())
    assert isinstance(back, wire.Opaque) and back.type_name == "object"
    model = object()
    assert wire.encode(model, {id(model): "model"}) == {"$ref": "model"}


def test_the_wire_refuses_what_it_did_not_write():
    with pytest.raises(ValueError, match="dtype"):
        wire.decode({"$array": "tensor", "dtype": "object", "shape": [1], "values": [1]})
    with pytest.raises(ValueError, match="shape"):
        wire.decode({"$array": "ndarray", "dtype": "int64", "shape": [3], "values": [1, 2]})
    with pytest.raises(ValueError, match="unexpected object"):
        wire.decode({"__reduce__": "os.system"})
    with pytest.raises(ValueError, match="over the"):
        wire.loads(" " * (wire.MAX_REPLY_BYTES + 1))


def test_the_kernel_side_calls_by_name_and_reports_what_was_raised():
    namespace = {"double": lambda x: x * 2, "model": "the kernel's model", "text": "{dialogue}"}
    call = '{"args": [{"$ref": "model"}]}'
    assert wire.decode(wire.loads(wire.answer_call(namespace, "double", call))["ok"]) == "the kernel's model" * 2
    assert wire.loads(wire.answer_call(namespace, "text", '{"args": [], "call": false}'))["ok"] == "{dialogue}"
    missing = wire.loads(wire.answer_call(namespace, "nowhere", '{"args": []}'))
    assert missing["raised"] == "NameError" and missing["builtin"]


def test_what_a_call_did_to_its_arguments_reaches_the_checkers_copies():
    def mask_in_place(labels):
        labels[labels == 0] = -100
        return labels

    reply = wire.loads(
        wire.answer_call({"f": mask_in_place}, "f", wire.dumps({"args": [wire.encode(torch.tensor([5, 0]))]}))
    )
    mine, kept = torch.tensor([5, 0]), [1, 2]
    wire.write_back(mine, wire.decode(reply["after"][0]))
    wire.write_back(kept, wire.decode(wire.encode(torch.zeros(2))))  # another type: left alone
    assert mine.tolist() == [5, -100] and kept == [1, 2]


def test_a_reply_is_read_as_data_and_exceptions_come_back_by_type():
    def probe(text: str):
        result = nbformat.v4.new_output("execute_result", data={"text/plain": repr(text)}, execution_count=1)
        return nbformat.v4.new_code_cell(outputs=[result])

    assert torch.equal(_reply(probe(wire.dumps({"ok": wire.encode(torch.ones(2))})))[0], torch.ones(2))
    with pytest.raises(ValueError, match="bad temperature"):
        _reply(probe(wire.dumps({"raised": "ValueError", "builtin": True, "message": "bad temperature"})))
    with pytest.raises(RuntimeError, match="no readable answer"):
        _reply(probe("__import__('os').system('true')"))
    custom = _rebuilt("SafetensorError", False, "broken")
    assert isinstance(custom, wire.RemoteError) and type(custom).__name__ == "SafetensorError"
    assert not isinstance(_rebuilt("SystemExit", True, ""), SystemExit)  # never a BaseException the grader obeys


def test_every_checker_cell_of_the_notebooks_has_a_trusted_check():
    for path in assignment_notebooks():
        cells = nbformat.read(path, as_version=4).cells
        for cell in cells:
            grade_id = grading(cell).get("grade_id", "")
            if not grading(cell).get("grade"):
                continue
            trusted = CHECKS[grade_id]
            assert trusted.check.__name__ in cell.source, (path.name, grade_id)
            answer = next(c for c in cells if grading(c).get("grade_id") == grade_id.replace("check_", "answer_"))
            defined = f"def {trusted.answer}(" if not trusted.value else f"{trusted.answer} ="
            assert defined in answer.source, (path.name, grade_id)


def test_an_answer_that_memorised_the_published_cases_fails_the_graders_own():
    from transformers import TopPLogitsWarper

    from labs_helpers.exercises import decoding_checks

    seen: dict = {}

    def record(logits, top_p):
        seen[(logits.numpy().tobytes(), top_p)] = TopPLogitsWarper(top_p=top_p)(None, logits.clone())
        return seen[(logits.numpy().tobytes(), top_p)]

    assert decoding_checks.check_top_p(record).passed  # the cases anyone can read in the kit's source

    def memorised(logits, top_p):
        return seen.get((logits.numpy().tobytes(), top_p), logits)

    assert decoding_checks.check_top_p(memorised).passed
    assert not decoding_checks.check_top_p(memorised, seed=4711).passed


def test_library_shortcuts_are_flagged_and_the_learners_own_names_are_not():
    top_p = CHECKS["check_03_1"]
    shortcut = (
        "from transformers import TopPLogitsWarper\ndef top_p_filter(l, p):\n    return TopPLogitsWarper(p)(None, l)"
    )
    assert library_uses([shortcut], top_p) == ["TopPLogitsWarper"]
    assert library_uses(["import transformers\nf = transformers.TopPLogitsWarper"], top_p) == ["TopPLogitsWarper"]
    own = "def distinct_n(texts, n):\n    return len(texts)\n"
    assert library_uses([own], CHECKS["check_03_3"]) == []
    assert library_uses(["from labs_helpers.metrics import distinct_n"], CHECKS["check_03_3"]) == ["distinct_n"]
    checker = "from labs_helpers.exercises import decoding_checks\n"
    assert library_uses([checker, "def ("], top_p) == ["decoding_checks", "exercises"]
    assert review_note([]) == "" and "TopPLogitsWarper" in review_note(["TopPLogitsWarper"])


def test_submissions_are_labelled_so_that_none_share_a_feedback_file(tmp_path):
    for name in ("alice/a/01.ipynb", "alice/b/01.ipynb", "bob/01.ipynb", "cy.ipynb", "dan/01/01.ipynb", ".hidden/x"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    (tmp_path / "eve.ipynb").symlink_to(tmp_path / "cy.ipynb")
    labels = {(s.student, s.label) for s in find(tmp_path)}
    assert labels == {("alice", "a/01"), ("alice", "b/01"), ("bob", "01"), ("cy", "cy"), ("dan", "01"), ("eve", "eve")}


def test_an_unknown_sandbox_or_a_bad_limit_is_one_sentence(tmp_path, capsys):
    with pytest.raises(LabsError, match="choose one of auto, bubblewrap, copy"):
        choose("docker", Limits())
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.ipynb").write_text("{}")
    for option in (["--sandbox", "docker"], ["--memory-gb", "0"], ["--processes", "0"], ["--output-mb", "-1"]):
        assert grade.main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), *option]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_the_copy_sandbox_gives_the_kernel_a_fresh_kit_and_nothing_of_the_graders_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "do-not-leak")
    sandbox = choose("copy", Limits())
    sandbox.prepare(tmp_path / "work")
    copied = tmp_path / "work" / "kit" / "labs_helpers" / "settings.py"
    assert copied.read_text() == (KIT_ROOT / "labs_helpers" / "settings.py").read_text()
    env = sandbox.env(tmp_path / "work", {"LABS_SEED": "1"})
    assert "SECRET_TOKEN" not in env and env["LABS_SEED"] == "1" and env["PYTHONPATH"] == str(copied.parent.parent)
    command = sandbox.command(
        [sys.executable, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_FSIZE))"], tmp_path, []
    )
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.strip() == f"({256 * 2**20}, {256 * 2**20})"


def test_detached_descendants_are_found_and_killed():
    from labs_helpers.instructor.sandbox import become_subreaper

    become_subreaper()
    code = "import subprocess, sys, time; subprocess.Popen(['sleep', '300'], start_new_session=True); time.sleep(300)"
    parent = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(1.5)
    parent.kill()
    parent.wait()
    time.sleep(0.3)
    assert descendants(), "the detached sleep should now be ours (we are its subreaper)"
    assert kill_descendants() >= 1
    assert descendants() == []
    assert os.getpid() not in descendants()
