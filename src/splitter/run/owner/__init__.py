"""A workstation's owner comes first: pause, continue and fewer workers, by hand or by rule.

`policy` decides from readings (pure), `readings` takes them (others' load,
keyboard and mouse idle time, the local time), `control` applies requests
and the policy to the running engine once per step of the runner, and
`command` is the CLI side (`pause`, `continue`, `workers`), which writes the
request into the run's folder (`splitter.store.control`).
"""
