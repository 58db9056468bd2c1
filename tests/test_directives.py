"""Task-file directives: disBatch's #DISBATCH lines and #SPLITTER NEEDS, expanded purely."""

from __future__ import annotations

import pickle

import pytest

from splitter.campaign.directives import (
    MAX_TASKS,
    Barrier,
    EngineCommand,
    Task,
    expand,
    task_key,
)
from splitter.errors import UsageError


def commands(text: str) -> list[str]:
    return [task.command for task in expand(text, "t.txt").tasks]


def test_plain_lines_are_tasks_and_comments_and_blank_lines_are_not() -> None:
    text = "# sweep\necho a\n\n   \n  # indented comment\necho b > out/1.txt\r\nexit 3"
    assert expand(text, "t.txt").tasks == (
        Task("echo a", 2, -1, 0),
        Task("echo b > out/1.txt", 6, -1, 1),
        Task("exit 3", 7, -1, 2),
    )


def test_a_byte_order_mark_is_not_part_of_the_first_task() -> None:
    assert commands("\ufefftrue\n") == ["true"]


def test_prefix_and_suffix_wrap_the_later_tasks_and_a_later_one_replaces_the_earlier() -> None:
    text = (
        "echo before\n"
        "#DISBATCH PREFIX ( cd /work ; \n"
        "#DISBATCH SUFFIX  ) &> ${DISBATCH_TASKID}.log\n"
        "myprog -a 0\n"
        "#DISBATCH PREFIX cd other ; \n"
        "myprog -a 1\n"
    )
    assert commands(text) == [
        "echo before",
        "( cd /work ; myprog -a 0 ) &> ${DISBATCH_TASKID}.log",
        "cd other ; myprog -a 1 ) &> ${DISBATCH_TASKID}.log",
    ]


def test_a_bare_prefix_resets_it_to_nothing() -> None:
    assert commands("#DISBATCH PREFIX cd x ; \na\n#DISBATCH PREFIX\nb\n") == ["cd x ; a", "b"]


def test_repeat_expands_to_count_tasks_with_start_and_step_as_their_repeat_index() -> None:
    text = "#DISBATCH PREFIX run \n#DISBATCH REPEAT 3 start 100 step 50 -x\n"
    assert expand(text, "t.txt").tasks == (
        Task("run -x", 2, 100, 0),
        Task("run -x", 2, 150, 1),
        Task("run -x", 2, 200, 2),
    )


def test_repeat_without_a_command_runs_prefix_and_suffix_and_counts_from_0() -> None:
    text = "#DISBATCH PREFIX echo $DISBATCH_REPEAT_INDEX\n#DISBATCH SUFFIX  >> r.txt\n"
    tasks = expand(text + "#DISBATCH REPEAT 2\n", "t.txt").tasks
    assert [(t.command, t.repeat_index) for t in tasks] == [
        ("echo $DISBATCH_REPEAT_INDEX >> r.txt", 0),
        ("echo $DISBATCH_REPEAT_INDEX >> r.txt", 1),
    ]


@pytest.mark.parametrize(
    ("line", "indices", "command"),
    [
        ("#DISBATCH REPEAT 2 step 3 start 1 c", [1, 4], "c"),
        ("#DISBATCH repeat 2 START -2 c", [-2, -1], "c"),
        ("#DISBATCH REPEAT 2 start 5", [5, 6], ""),
        ("#DISBATCH REPEAT 2 stepper", [0, 1], "stepper"),
        ("#DISBATCH REPEAT 1  two spaces ", [0], " two spaces "),
    ],
)
def test_repeat_reads_its_options_in_any_order_and_keeps_the_command_verbatim(
    line: str, indices: list[int], command: str
) -> None:
    tasks = expand(line, "t.txt").tasks
    assert [(t.repeat_index, t.command) for t in tasks] == [(i, command) for i in indices]


def test_a_file_made_only_of_a_repeat_has_its_tasks() -> None:
    assert len(expand("#DISBATCH REPEAT 4000 python sweep.py\n", "t.txt").tasks) == 4000


def test_a_repeat_of_0_and_a_file_of_only_directives_and_comments_have_no_task() -> None:
    assert expand("#DISBATCH PREFIX cd x ; \n# c\n#DISBATCH REPEAT 0 x\n", "t.txt").tasks == ()


def test_barriers_make_phases_take_a_task_id_and_say_which_check() -> None:
    text = "a\n#DISBATCH BARRIER\nb\n#DISBATCH REPEAT 2 c\n#DISBATCH barrier check\nd\n"
    expanded = expand(text, "t.txt")
    assert [(t.command, t.task_id, t.phase) for t in expanded.tasks] == [
        ("a", 0, 0), ("b", 2, 1), ("c", 3, 1), ("c", 4, 1), ("d", 6, 2),
    ]  # fmt: skip
    assert expanded.barriers == (Barrier(2, 1, False), Barrier(5, 5, True))
    assert expanded.phase_checks == (False, False, True)


def test_perengine_commands_come_apart_wrapped_by_prefix_and_suffix() -> None:
    text = (
        "#DISBATCH PREFIX ( \n#DISBATCH SUFFIX  )\n"
        "#DISBATCH PERENGINE START mkdir -p /tmp/s\n#DISBATCH PERENGINE stop rm -r /tmp/s\n"
        "#DISBATCH PERENGINE START echo up\ntask\n"
    )
    expanded = expand(text, "t.txt")
    assert expanded.start == (
        EngineCommand("( mkdir -p /tmp/s )", 3),
        EngineCommand("( echo up )", 5),
    )
    assert expanded.stop == (EngineCommand("( rm -r /tmp/s )", 4),)
    assert [t.command for t in expanded.tasks] == ["( task )"]


@pytest.mark.parametrize("first", ["true", "#DISBATCH REPEAT 0", "#DISBATCH BARRIER"])
def test_a_perengine_after_the_first_task_is_refused_as_disbatch_does(first: str) -> None:
    with pytest.raises(UsageError) as error:
        expand(f"# c\n{first}\n#DISBATCH PERENGINE STOP rm x\n", "t.txt")
    assert str(error.value) == (
        "task file t.txt: line 3: PERENGINE comes after the first task (line 2); as in "
        "disBatch, move it above every task, REPEAT and BARRIER"
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("#DISBATCH PREFIXcd", "'#DISBATCH PREFIXcd' is not a directive splitter knows"),
        ("#DISBATCH FOO bar", "'#DISBATCH FOO bar' is not a directive splitter knows"),
        ("#DISBATCH", "'#DISBATCH' is not a directive splitter knows"),
        ("#DISBATCHED x", "'#DISBATCHED x' is not a directive splitter knows"),
        ("#DISBATCH REPEAT x", "REPEAT needs a count"),
        ("#DISBATCH REPEAT 2 start 1 start 2", "REPEAT gives start twice; give it once"),
        ("#DISBATCH BARRIER mykey", "BARRIER takes only CHECK, not 'mykey'"),
        ("#DISBATCH PERENGINE START", "PERENGINE needs START or STOP and a command"),
        ("#DISBATCH PERENGINE BEGIN x", "PERENGINE needs START or STOP and a command"),
        ("#SPLITTER WANTS x", "'#SPLITTER WANTS x' is not a directive splitter knows"),
    ],
)
def test_a_directive_that_is_none_of_these_is_refused_with_its_line(
    line: str, problem: str
) -> None:
    with pytest.raises(UsageError) as error:
        expand(f"true\n\n{line}\ntrue\n", "t.txt")
    assert str(error.value).startswith(f"task file t.txt: line 3: {problem}")
    assert error.value.exit_code == 2


def test_the_unknown_directive_message_names_the_known_ones_and_the_fix() -> None:
    with pytest.raises(UsageError) as error:
        expand("#DISBATCH FOO\n", "t.txt")
    assert str(error.value) == (
        "task file t.txt: line 1: '#DISBATCH FOO' is not a directive splitter knows (known: "
        "PREFIX, SUFFIX, REPEAT, BARRIER [CHECK], PERENGINE START|STOP); fix it, or write '# ' "
        "to make the line a comment"
    )


def test_a_lowercase_or_indented_disbatch_line_is_a_comment_as_in_disbatch() -> None:
    assert commands("#disbatch PREFIX x\n  #DISBATCH PREFIX y\nz\n") == ["z"]


def test_needs_apply_to_the_later_tasks_until_replaced_or_reset() -> None:
    text = (
        "a\n#SPLITTER NEEDS cores=4 gpus=1 mem=8G tags=openfoam,cuda\nb\n"
        "#DISBATCH REPEAT 1 c\n#SPLITTER needs Licences=2\nd\n#SPLITTER NEEDS\ne\n"
    )
    assert [dict(task.needs) for task in expand(text, "t.txt").tasks] == [
        {},
        {"cores": "4", "gpus": "1", "mem": "8G", "tags": ("openfoam", "cuda")},
        {"cores": "4", "gpus": "1", "mem": "8G", "tags": ("openfoam", "cuda")},
        {"licences": "2"},
        {},
    ]


@pytest.mark.parametrize(
    ("rest", "problem"),
    [
        ("cores", "NEEDS takes name=value words, not 'cores'"),
        ("cores=", "NEEDS takes name=value words, not 'cores='"),
        ("=4", "NEEDS takes name=value words, not '=4'"),
        ("cores=1 cores=2", "NEEDS gives cores twice; give it once"),
        ("tags=a,,b", "NEEDS tags='a,,b' is not a comma-separated list of names"),
    ],
)
def test_bad_needs_are_refused_in_one_sentence_naming_the_line(rest: str, problem: str) -> None:
    with pytest.raises(UsageError) as error:
        expand(f"#SPLITTER NEEDS {rest}\n", "t.txt")
    assert str(error.value).startswith(f"task file t.txt: line 1: {problem}")


def test_a_repeat_beyond_the_task_limit_is_refused_before_it_fills_memory() -> None:
    with pytest.raises(UsageError, match=f"more than {MAX_TASKS:,} tasks"):
        expand(f"#DISBATCH REPEAT {MAX_TASKS + 1}\n", "t.txt")


def test_a_task_key_is_its_command_as_run_and_repeat_index_bytes_where_not_utf8() -> None:
    text = b"#DISBATCH REPEAT 2 echo caf\xe9\necho caf\xc3\xa9\n".decode(
        "utf-8", "surrogateescape"
    )
    tasks = expand(text, "t.txt").tasks
    assert [task_key(task) for task in tasks] == [
        (b"echo caf\xe9", 0), (b"echo caf\xe9", 1), ("echo caf\u00e9", -1),
    ]  # fmt: skip


def test_a_task_pickles_for_the_workers_with_its_undecodable_bytes() -> None:
    task = expand(b"echo \xff\n".decode("utf-8", "surrogateescape"), "t.txt").tasks[0]
    assert pickle.loads(pickle.dumps(task)) == task
    assert task.command.encode("utf-8", "surrogateescape") == b"echo \xff"
