"""Reading many host folders back as one campaign.

Takes the host folders that `run` wrote; hands on the merged results, the
unified log and report.json (`combine`, with its pure rules in `rules`), the
per-host counts of `status`, and `rescue`: the plan of what the merge found
missing, over the machines it saw. Uses `campaign` and `store`, never `run`.
"""
