"""What every host computes identically from the inputs, before anything runs.

Takes the configs (machines.json, splitter.ini) and the job pool; hands on a
`Campaign`: the parsed config and runner settings, the machines, the pool's
canonical encoding, job keys and digest, the campaign seed and the plan (the
job order and each machine's share, under one plan digest), plus the
templates `init` writes, the plan as people read it, and a task file's lines
as a pool. Pure
and deterministic: nothing here touches an output folder, and nothing here
imports the later stages.
"""
