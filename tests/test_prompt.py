"""Tests for splitter.run.prompt: the machine question and the confirmation, with fake I/O."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from splitter.campaign.machines import Machine
from splitter.errors import UsageError, VerificationError
from splitter.run.prompt import ask_machine, confirm

ALPHA = Machine("alpha", 1.0, 8)
BETA = Machine("beta", 2.5, 4)
GAMMA = Machine("gamma", 0.5, 16)
MACHINES = (ALPHA, BETA, GAMMA)
LISTING = [
    "Which machine is this?",
    "    1  alpha  (perf 1 x 8 cores)",
    "    2  beta  (perf 2.5 x 4 cores)",
    "    3  gamma  (perf 0.5 x 16 cores)",
]


class FakeTerminal:
    """Answers questions from a script, then raises EOFError; records what was asked and said."""

    def __init__(self, answers: Iterable[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []
        self.said: list[str] = []

    def ask(self, prompt: str) -> str:
        self.asked.append(prompt)
        if not self.answers:
            raise EOFError
        return self.answers.pop(0)

    def say(self, text: str) -> None:
        self.said.append(text)


def choose(
    answers: Iterable[str], preselected: Machine | None = None
) -> tuple[Machine, FakeTerminal]:
    terminal = FakeTerminal(answers)
    return ask_machine(MACHINES, preselected, terminal.ask, terminal.say), terminal


# ask_machine


def test_ask_machine_lists_the_machines_by_number() -> None:
    _, terminal = choose(["1"])

    assert terminal.said == LISTING
    assert terminal.asked == ["Number or name: "]


def test_ask_machine_accepts_a_number() -> None:
    assert choose(["2"])[0] is BETA


def test_ask_machine_accepts_a_name() -> None:
    assert choose(["gamma"])[0] is GAMMA


def test_ask_machine_ignores_surrounding_spaces() -> None:
    assert choose(["  3 \n"])[0] is GAMMA
    assert choose([" alpha "])[0] is ALPHA


def test_ask_machine_marks_the_preselected_machine_and_offers_it_as_default() -> None:
    chosen, terminal = choose([""], preselected=BETA)

    assert chosen is BETA
    assert terminal.said == [
        "Which machine is this?",
        "    1  alpha  (perf 1 x 8 cores)",
        " *  2  beta  (perf 2.5 x 4 cores)",
        "    3  gamma  (perf 0.5 x 16 cores)",
    ]
    assert terminal.asked == ["Number or name [2]: "]


def test_ask_machine_takes_an_answer_over_the_preselected_default() -> None:
    assert choose(["1"], preselected=GAMMA)[0] is ALPHA


@pytest.mark.parametrize("wrong", ["4", "0", "delta", "Alpha", "-1", "1.0"])
def test_ask_machine_asks_again_after_a_wrong_answer_and_says_why(wrong: str) -> None:
    chosen, terminal = choose([wrong, "beta"])

    assert chosen is BETA
    assert terminal.said == [
        *LISTING,
        f"'{wrong}' is neither a number from 1 to 3 nor a machine's name.",
    ]
    assert terminal.asked == ["Number or name: ", "Number or name: "]


def test_ask_machine_asks_again_after_an_empty_answer_without_a_default() -> None:
    chosen, terminal = choose(["", "3"])

    assert chosen is GAMMA
    assert terminal.said[-1] == "'' is neither a number from 1 to 3 nor a machine's name."


def test_ask_machine_asks_again_after_a_superscript_digit() -> None:
    chosen, terminal = choose(["²", "1"])

    assert chosen is ALPHA
    assert terminal.said[-1] == "'²' is neither a number from 1 to 3 nor a machine's name."


def test_ask_machine_prefers_the_number_over_a_machine_named_like_one() -> None:
    machines = (Machine("2", 1.0, 1), Machine("1", 1.0, 1))
    terminal = FakeTerminal(["2"])

    assert ask_machine(machines, None, terminal.ask, terminal.say) is machines[1]


def test_ask_machine_at_end_of_input_is_a_usage_error_naming_the_option() -> None:
    with pytest.raises(UsageError) as caught:
        choose(["nope"])

    assert str(caught.value) == "no machine chosen (end of input); pass --machine NAME"
    assert caught.value.exit_code == 2


def test_ask_machine_at_end_of_input_does_not_take_the_default() -> None:
    with pytest.raises(UsageError):
        choose([], preselected=ALPHA)


# confirm


def confirm_with(answers: Iterable[str]) -> FakeTerminal:
    terminal = FakeTerminal(answers)
    confirm("Start?", terminal.ask)
    return terminal


@pytest.mark.parametrize("answer", ["y", "yes", "Y", "YES", " yes \n"])
def test_confirm_passes_on_yes(answer: str) -> None:
    terminal = confirm_with([answer])

    assert terminal.asked == ["Start? [y/N] "]


@pytest.mark.parametrize("answer", ["", "n", "no", "yep", "ja", "1", "y y"])
def test_confirm_refuses_anything_but_yes(answer: str) -> None:
    with pytest.raises(VerificationError) as caught:
        confirm_with([answer])

    assert str(caught.value) == (
        "not confirmed, so nothing was run; pass --yes to skip the question"
    )
    assert caught.value.exit_code == 3


def test_confirm_refuses_at_end_of_input() -> None:
    with pytest.raises(VerificationError) as caught:
        confirm_with([])

    assert caught.value.exit_code == 3
