"""Reading many host folders back as one campaign.

Takes the host folders that `run` wrote; hands on the merged results, the
unified log and report.json (`combine`, with its pure rules in `rules`), the
per-host counts of `status`, `rescue`: the plan of what the merge found
missing, over the machines it saw, and a host or merged folder's results
typed (`table`) for Python and Parquet (`export`: `splitter.read_results`).
Uses `campaign` and `store`, never `run`.
"""
