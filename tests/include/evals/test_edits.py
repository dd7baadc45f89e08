"""What a failed eval check reports: the failing tests by name, whatever the terminal's width."""

from __future__ import annotations

from include.evals.edits import check_summary

PYTEST_OUTPUT = """\
..F                                                                      [100%]
=================================== FAILURES ===================================
______________________ test_vat_is_rounded_once_per_invoice ____________________
E       assert Decimal('0.09') == Decimal('0.10')
=========================== short test summary info ============================
FAILED test_eval_vat.py::test_vat_is_rounded_once_per_invoice - assert Decimal('0.09') == Decimal('0.10') """ + \
    "+ where Decimal('0.19') = Decimal('0.19') " * 20 + """
ERROR test_setup.py::test_db - fixture 'db' not found
1 failed, 2 passed, 1 error in 0.02s
"""


def test_failing_tests_are_named_even_when_their_assertion_text_is_long() -> None:
    summary = check_summary(PYTEST_OUTPUT)
    assert summary.startswith("failed: test_eval_vat.py::test_vat_is_rounded_once_per_invoice, "
                              "test_setup.py::test_db; ")
    assert summary.endswith("1 failed, 2 passed, 1 error in 0.02s")


def test_output_without_a_test_summary_keeps_its_tail() -> None:
    output = "Traceback (most recent call last):\n" + "  line\n" * 200 + "SyntaxError: invalid syntax\n"
    summary = check_summary(output, limit=40)
    assert summary == " ".join(output.split())[-40:]
    assert summary.endswith("SyntaxError: invalid syntax")
