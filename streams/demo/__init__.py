"""`loanwatch demo`: a seeded loan book through a real worker, watched live, scored against truth.

One run:

1. picks a run id and gives the run its own app id, topics (``demo.<run>.*``) and
   worker data folder, so a rerun starts clean and never sees an old run's state;
2. starts a real worker subprocess (``python -m streams.cli worker``) with the
   event clock (``LOANWATCH_WORKER__CLOCK=event``), so simulated months age the
   loans, and a short clock interval;
3. runs the simulator (what `streams.simulate.simulate_command` does, but stoppable
   on Ctrl-C) into the run's events topic, in a thread, writing the ground-truth
   labels beside the run;
4. shows the warnings topic live (a rolling table of the latest warnings, counts
   by rule and by severity, events produced and judged, warnings received) until
   the simulator is done, the worker has caught up and no warning has arrived for
   ``quiet_s`` seconds, or ``max_seconds`` have passed;
5. stops the worker (SIGTERM, then SIGKILL only if it does not stop), deletes the
   run's topics and worker data (unless ``keep``) and scores the warnings against
   the labels: per ground-truth signal, how many labelled loans a matching rule
   flagged (recall) and how many flagged loans had no such label (precision).
   The scores go to ``summary.json``.

One module per part: `grading` (scores against the ground truth, pure),
`live_view` (the rolling view), `worker_process` (the worker's settings, start
and stop), `kafka_meter` (the warnings topic and the worker's offsets read) and
`run` (the steps above, in order).
"""

from __future__ import annotations

from streams.demo.grading import (
    MODEL_SIGNAL_RULES,
    SIGNAL_RULES,
    UNSCORED_SIGNALS,
    SignalScore,
    WarningTally,
    read_labels,
    score_signals,
    unscored_counts,
)
from streams.demo.live_view import scores_table
from streams.demo.run import DemoResult, run_demo
from streams.demo.worker_process import demo_settings

__all__ = [
    "MODEL_SIGNAL_RULES",
    "SIGNAL_RULES",
    "UNSCORED_SIGNALS",
    "DemoResult",
    "SignalScore",
    "WarningTally",
    "demo_settings",
    "read_labels",
    "run_demo",
    "score_signals",
    "scores_table",
    "unscored_counts",
]
