"""Running one host's share: from a planned campaign to rows on disk.

Takes a `Campaign`, the user's job and this host's share; hands on a
host folder (results, log, manifest) and a `RunSummary`. `command` is the
`run` command (machine choice, digest check, confirmation), `runner` the
loop that resumes, dispatches to an engine, records and reports, `engine`
the interface it drives; `local` is the engine of this machine's process
pool. `injection` builds what jobs receive, `display` and `logs` the console
and log.zst, `tally` the counts and the exit code; `shelltask` (with
`taskoutput`) is the job of a task file, one shell command per job, and
`tasktree` finds and kills what its processes leave behind; `lifeline` makes
workers die with their parent;
`calibrate` measures this host's perf on a fixed sample of the jobs, `cpus`
the CPUs it may use; `owner` lets the workstation's owner pause the run,
continue it and change its workers, by hand or by ``[owner]`` rules
(`proctree` reads this host's processes for it). Uses `campaign` and
`store`; it imports `merge` only in `command`, to plan a rescue from a
merged report.
"""
