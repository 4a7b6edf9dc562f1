"""Push alerts for on-call staff: routing, grouping, silences, acks, escalation.

See docs/alerting.md.
"""

from __future__ import annotations
