"""The two questions ``run`` may ask a person: which machine is this, and go?

The only place that reads from the terminal. Flags skip both questions, and
without a terminal neither is asked: the caller gets a UsageError that names
the flag instead of a prompt that would hang.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from splitter.campaign.machines import Machine
from splitter.errors import UsageError, VerificationError

__all__ = ["ask", "ask_machine", "confirm", "say"]

Ask = Callable[[str], str]


def ask_machine(
    machines: Sequence[Machine], preselected: Machine | None, ask: Ask, say: Callable[[str], None]
) -> Machine:
    """List the machines by number; accept a number or a name; ask again when wrong."""
    say("Which machine is this?")
    for number, machine in enumerate(machines, 1):
        mark = "*" if machine == preselected else " "
        say(f" {mark}{number:>3}  {machine.name}  (perf {machine.perf:g} x {machine.cores} cores)")
    default = f" [{machines.index(preselected) + 1}]" if preselected else ""
    while True:
        try:
            answer = ask(f"Number or name{default}: ").strip()
        except EOFError:
            raise UsageError("no machine chosen (end of input); pass --machine NAME") from None
        if not answer and preselected is not None:
            return preselected
        chosen = _pick(machines, answer)
        if chosen is not None:
            return chosen
        say(f"'{answer}' is neither a number from 1 to {len(machines)} nor a machine's name.")


def _pick(machines: Sequence[Machine], answer: str) -> Machine | None:
    if answer.isascii() and answer.isdigit() and 1 <= int(answer) <= len(machines):
        return machines[int(answer) - 1]
    return next((m for m in machines if m.name == answer), None)


def confirm(question: str, ask: Ask) -> None:
    """Ask ``question [y/N]``; anything but yes refuses (exit 3)."""
    try:
        answer = ask(f"{question} [y/N] ").strip().lower()
    except EOFError:
        answer = ""
    if answer not in ("y", "yes"):
        raise VerificationError(
            "not confirmed, so nothing was run; pass --yes to skip the question"
        )


def say(text: str) -> None:
    """A line of the dialogue, on stderr (stdout is for a command's output)."""
    print(text, file=sys.stderr)


def ask(question: str) -> str:
    """Read an answer from the terminal; the question goes to stderr like the rest."""
    print(question, end="", file=sys.stderr, flush=True)
    return input()
