"""The example campaign: a small Monte Carlo sweep over (alpha, beta).

Run it like any splitter entry script:

    python example_main.py plan
    python example_main.py run --machine alpha
    python example_main.py merge results/* --out merged   # also applies best_score
"""

from __future__ import annotations

import logging
import math
import multiprocessing

import splitter

log = logging.getLogger("example")


def simulate(alpha, beta, *, random_obj, config, progress):
    """Estimate E[sin(alpha * x) + beta * x^2] for x ~ U(0, 1) by sampling."""
    steps = config.getint("job", "steps")
    samples = config.getint("job", "samples_per_step")
    total = 0.0
    for step in range(steps):
        for _ in range(samples):
            x = random_obj.random()
            total += math.sin(alpha * x) + beta * x * x
        progress.report(step + 1, base=steps)
    score = total / (steps * samples)
    log.debug("alpha=%s beta=%s score=%.6f", alpha, beta, score)
    return {"alpha": alpha, "beta": beta, "score": score}


def best_score(best, row):
    """The reduce step of `merge`: the merged row with the highest score."""
    return row if best is None or row["score"] > best["score"] else best


if __name__ == "__main__":
    # In the one-file binary each worker runs this block too: it leaves here.
    multiprocessing.freeze_support()
    pool = [(alpha, beta) for alpha in range(10) for beta in range(10)]
    splitter.main(simulate, pool, reduce=best_score)
