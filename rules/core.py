"""The risk core: one deterministic step per event or clock tick.

``Engine.step(record, item, now)`` takes a loan's record (state, open episodes,
workflow memory), one input (an `Event` or a `Tick`) and the processing time,
and returns the new record and a `StepResult`: warnings, bucket/class
transitions and actions. It performs no I/O, so the same (events, ticks)
replayed give the same outputs, and the Faust agents that call it stay thin.

The record is owned by the caller and updated in place (copying a loan per
event would cost more than judging it); the caller persists the returned
record. Swapping the rule pack (`Engine.with_pack`) keeps every record and
every open episode: episodes are keyed by rule id, so a new version of a rule
continues its predecessor's episode instead of alerting again. An open episode
of a rule the new pack no longer has is resolved at the loan's next step.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import compress, repeat
from operator import call, itemgetter, or_
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from zoneinfo import ZoneInfo

import orjson

from rules.clock import next_wakeup
from rules.events import Event, LoanDisbursed
from rules.loan import (
    LoanState,
    Transition,
    advance,
    apply,
    from_disbursement,
    loan_from_bytes,
    loan_to_bytes,
)
from rules.scoring import ScoreCard, Scorer
from rules.vocabulary import VOCABULARY, RuleContext
from rules.warnings import EpisodeBook, EpisodeState, Reason, RiskWarning, warning_id
from rules.workflows import Action, WorkflowPolicy, WorkflowState, action_id

if TYPE_CHECKING:
    from rules.lang import Condition
    from rules.lang.ops import Getter
    from rules.pack import Rule, RulePack
    from rules.policy import Policy

__all__ = ["RETIRED_OWNER", "Engine", "LoanRecord", "StepResult", "Tick", "clock_step_id"]

RETIRED_OWNER: Final = "risk-review"
"""Owner team of the warning that resolves an episode of a rule the engine never saw
and whose episode predates the record keeping its owner."""


def _retired_field(
    rule: Rule | None, remembered: tuple[int, str, str] | None, index: int, default: Any
) -> Any:
    """A retired rule's version, severity or owner: from the rule, else the episode."""
    if rule is not None:
        return (rule.version, rule.severity, rule.owner_team)[index]
    if remembered is not None:
        return remembered[index]
    return default


def _ahead(event: Event, now: datetime, policy: Policy) -> str:
    ahead = event.event_time - now
    hours = ahead.seconds // 3600
    return (
        f"{event.event_time.isoformat()} is {ahead.days} days {hours} hours ahead of the "
        f"worker's clock ({now.astimezone(UTC).isoformat(timespec='seconds')}); events more "
        f"than {policy.max_event_lead_hours} hours ahead are refused"
    )


def _resolved(rule: Rule, ctx: RuleContext, moved_to: str | None = None) -> str:
    """What a resolving warning says: why the episode ended and where the loan stands.

    The rule's own message read at the moment of resolution ("Past due: 0 days")
    says nothing; the condition that ended the episode does, or the episode key
    the condition now holds for (a loan moved on from substandard to doubtful).
    """
    loan = ctx.loan
    if moved_to is not None:
        why = f"now {rule.episode_key.text if rule.episode_key else 'key'} = {moved_to}"
    elif rule.resolve_when is not None:
        why = f"{rule.resolve_when.text} holds"
    else:
        why = f"{rule.condition.text} no longer holds"
    return f"Resolved {rule.id}: {why} (DPD {loan.dpd}, {loan.bucket}, class {loan.klass})"


def clock_step_id(loan_id: str, day: date) -> str:
    """The id a clock step's outputs carry where an event step's carry the event's.

    Derived from the loan and the day, so a replay or a redelivered tick names the
    same step, and a consumer can join a tick's warnings, transitions and actions,
    or deduplicate them, as it does an event's:

    >>> clock_step_id("L-7", date(2026, 2, 14))
    'clock:2026-02-14:L-7'
    """
    return f"clock:{day.isoformat()}:{loan_id}"


_RECORD_FORMAT = 1
_HEADER = struct.Struct(">BI")  # format version, length of the loan's own bytes


@dataclass(frozen=True, slots=True)
class Tick:
    """The clock: time has reached the start of ``on`` (in the policy's time zone)."""

    loan_id: str
    on: date


@dataclass(slots=True)
class LoanRecord:
    """Everything persisted per loan: state, rule episodes and workflow memory."""

    loan: LoanState
    episodes: EpisodeBook
    workflow: WorkflowState

    def to_bytes(self) -> bytes:
        loan = loan_to_bytes(self.loan)
        rest = orjson.dumps([self.episodes.to_obj(), self.workflow.to_obj()])
        return _HEADER.pack(_RECORD_FORMAT, len(loan)) + loan + rest

    @classmethod
    def from_bytes(cls, data: bytes) -> LoanRecord:
        version, size = _HEADER.unpack_from(data)
        if version != _RECORD_FORMAT:
            raise ValueError(f"unknown loan record format {version}")
        start = _HEADER.size
        loan = loan_from_bytes(data[start : start + size])
        episodes, workflow = orjson.loads(data[start + size :])
        return cls(loan, EpisodeBook.from_obj(episodes), WorkflowState.from_obj(workflow))


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one step produced. ``wakeup`` is the next day time alone matters to the loan.

    ``clamped_wakeup`` is set when the loan asked to be woken on a day already
    judged (on or before the step's day): the engine moved the wake-up to the
    next day, which keeps the clock from ticking the loan forever, and reports
    the day asked for so the caller can log and count it. It should never
    happen; when it does, the loan state or a workflow has a bug.
    """

    warnings: tuple[RiskWarning, ...] = ()
    transitions: tuple[Transition, ...] = ()
    actions: tuple[Action, ...] = ()
    rejected: str | None = None
    rejected_field: str = "$"
    """The event field a refusal is about (``$``: the event as a whole)."""
    duplicate: bool = False
    wakeup: date | None = None
    clamped_wakeup: date | None = None


_EMPTY_SCORES: Mapping[str, float] = {}
_Planned = tuple[Any, str, Any, Any, bool, Any]


class _Plan(NamedTuple):
    """The rules one kind of step judges, in pack order, and how to evaluate them.

    Conditions that are one test of one name (``loan.dpd >= 30``, see
    `rules.lang.compile`) are evaluated as ``test(getter(ctx))``, both in C;
    the others by calling them. ``order`` puts the two runs of results back
    in pack order (``None``: they already are).
    """

    items: tuple[_Planned, ...]
    ids: tuple[str, ...]
    getters: tuple[Getter, ...]
    tests: tuple[Callable[[Any], bool], ...]
    conditions: tuple[Condition, ...]
    order: Callable[[tuple[bool, ...]], tuple[bool, ...]] | None

    def judge(self, ctx: RuleContext) -> tuple[bool, ...]:
        """Every condition's value for this context, in pack order."""
        hits = (
            *map(call, self.tests, map(call, self.getters, repeat(ctx))),
            *map(call, self.conditions, repeat(ctx)),
        )
        return hits if self.order is None else self.order(hits)

    @classmethod
    def of(cls, items: tuple[_Planned, ...]) -> _Plan:
        split = [i for i, item in enumerate(items) if item[2].split is not None]
        whole = [i for i, item in enumerate(items) if item[2].split is None]
        where = {index: position for position, index in enumerate(split + whole)}
        positions = [where[index] for index in range(len(items))]
        # Out of order means two rules or more, so itemgetter returns a tuple.
        order = itemgetter(*positions) if positions != sorted(positions) else None
        return cls(
            items,
            tuple(item[1] for item in items),
            tuple(items[i][2].split[0] for i in split),
            tuple(items[i][2].split[1] for i in split),
            tuple(items[i][2] for i in whole),
            order,
        )


@dataclass(frozen=True, slots=True)
class Engine:
    """The rule pack and policies a worker judges with; immutable, swapped whole."""

    pack: RulePack
    policy: Policy
    workflows: WorkflowPolicy
    retired: Mapping[str, Rule] = field(default_factory=dict, repr=False, compare=False)
    """Rules of earlier packs that this pack no longer has, by id (see `with_pack`)."""
    _plans: dict[str, _Plan] = field(init=False, repr=False, compare=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _ids: frozenset[str] = field(init=False, repr=False, compare=False)
    _reads: dict[str, tuple[tuple[tuple[str, Getter], ...], bool]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Looked up once per pack instead of once per rule per step: the hot loop
        # in `_judge` then reads plain tuple items.
        # Ticks judge the state rules alone; events (plans built per event type on
        # first use) add the event rules whose event.type test the type can pass.
        object.__setattr__(self, "_plans", {"": self._plan_of(self.pack.rules, None)})
        object.__setattr__(self, "_zone", ZoneInfo(self.policy.time_zone))
        object.__setattr__(self, "_ids", frozenset(self.pack.by_id))
        # What a warning of each rule lists as its reasons, in name order, and
        # whether it carries the model's score.
        reads = {
            rule.id: (
                tuple((name, VOCABULARY[name].getter) for name in sorted(rule.condition.names)),
                any(name.startswith("model.") for name in rule.condition.names),
            )
            for rule in self.pack.rules
        }
        object.__setattr__(self, "_reads", reads)

    @staticmethod
    def _plan_of(rules: tuple[Rule, ...], event_type: str | None) -> _Plan:
        """The rules a step judges, in pack order, as plain tuples for the hot loop."""
        items = tuple(
            (
                rule,
                rule.id,
                rule.condition,
                rule.episode_key,
                rule.kind == "event",
                rule.resolve_when,
            )
            for rule in rules
            if rule.kind == "state"
            or (
                event_type is not None
                and (rule.condition.event_types is None or event_type in rule.condition.event_types)
            )
        )
        return _Plan.of(items)

    def _plan_for(self, event_type: str) -> _Plan:
        plan = self._plan_of(self.pack.rules, event_type)
        self._plans[event_type] = plan
        return plan

    def with_pack(self, pack: RulePack) -> Engine:
        """Hot reload: the same engine with a new rule pack; records are untouched.

        Rules the new pack drops are remembered in ``retired``, so the warning
        that resolves one of their open episodes names the right severity and
        owner team.
        """
        retired = {**self.retired, **self.pack.by_id}
        kept = {rule_id: rule for rule_id, rule in retired.items() if rule_id not in pack.by_id}
        return Engine(pack, self.policy, self.workflows, MappingProxyType(kept))

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._zone).date()

    def step(
        self,
        record: LoanRecord | None,
        item: Event | Tick,
        now: datetime,
        scores: Mapping[str, float] = _EMPTY_SCORES,
        scorer: Scorer | None = None,
    ) -> tuple[LoanRecord | None, StepResult]:
        """Apply one event or tick to one loan's record.

        ``scorer``, when given, is asked for the model scores once the step is
        applied and before the rules are judged (it wins over ``scores``).

        An event or tick dated more than the policy's ``max_event_lead_hours``
        after ``now`` (the worker's clock) is refused and changes nothing: one
        mistyped year must not age a loan by centuries.
        """
        policy = self.policy
        if isinstance(item, Tick):
            if record is None:
                return None, StepResult(rejected=f"tick for unknown loan {item.loan_id}")
            event: Event | None = None
            today = item.on
            when = datetime.combine(item.on, time(0), tzinfo=self.zone)
            if when - now > policy.max_lead:
                return record, StepResult(rejected=f"tick for {item.on} is ahead of {now}")
            record.loan.begin_step()
        else:
            if item.event_time - now > policy.max_lead:
                return record, StepResult(
                    rejected=_ahead(item, now, policy), rejected_field="event_time"
                )
            event = item
            today = self.local_day(item.event_time)
            when = item.event_time
            if record is None:
                if not isinstance(item, LoanDisbursed):
                    reason = f"no loan_disbursed seen for loan {item.loan_id}"
                    return None, StepResult(rejected=reason)
                loan = from_disbursement(item, policy)
                record = LoanRecord(loan, EpisodeBook(), WorkflowState())
                record.workflow.start(today, self.workflows)
                loan.begin_step()
            else:
                record.loan.begin_step()
                applied = apply(record.loan, item, policy)
                if applied.duplicate:
                    return record, StepResult(duplicate=True)
                if applied.rejected:
                    return record, StepResult(rejected=applied.rejected)
        loan = record.loan
        advance(loan, today, policy)

        card = scorer(loan, event) if scorer is not None else None
        if card is not None:
            scores = card.values
        ctx = RuleContext(loan, loan.features, event, scores, today, now)
        warnings = self._judge(record, ctx, event, when, today, card)
        next_due = loan.next_due_date
        actions = self._act(record, warnings, event, today, now, next_due)
        wakeup = clamped = None
        if loan.status == "active":
            loan_day = next_wakeup(loan, policy)
            work_day = record.workflow.next_wakeup(next_due, self.workflows)
            if loan_day is None or (work_day is not None and work_day < loan_day):
                wakeup = work_day
            else:
                wakeup = loan_day
            if wakeup is not None and wakeup <= today:
                # Never ask the clock for a day already judged: that would tick forever.
                clamped = wakeup
                wakeup = today + timedelta(days=1)
        transitions = [t.stamped(loan, when, now) for t in loan.drain_transitions()]
        if event is None:  # the loan records no cause for time's changes: the tick is it
            transitions = [
                replace(t, event_id=clock_step_id(loan.loan_id, today)) for t in transitions
            ]
        return record, StepResult(
            warnings=tuple(warnings),
            transitions=tuple(transitions),
            actions=tuple(actions),
            wakeup=wakeup,
            clamped_wakeup=clamped,
        )

    def _judge(
        self,
        record: LoanRecord,
        ctx: RuleContext,
        event: Event | None,
        when: datetime,
        today: date,
        card: ScoreCard | None = None,
    ) -> list[RiskWarning]:
        out: list[RiskWarning] = []
        by_rule = record.episodes.by_rule
        plan = self._plans.get("" if event is None else event.type)
        if plan is None:
            plan = self._plan_for(event.type)  # type: ignore[union-attr]
        # Every condition first, called from C; then Python looks only at the rules
        # that fired or hold episodes (anything else has nothing to open or resolve).
        hits = plan.judge(ctx)
        if by_rule:
            todo: Iterable[tuple[_Planned, bool]] = compress(
                zip(plan.items, hits, strict=True),
                map(or_, hits, map(by_rule.__contains__, plan.ids)),
            )
        elif True in hits:
            todo = compress(zip(plan.items, hits, strict=True), hits)
        else:
            todo = ()
        for (rule, rule_id, _, episode_key, is_event_rule, resolve_when), fired in todo:
            keys = by_rule.get(rule_id)
            if not fired and (not keys or is_event_rule):
                continue  # nothing opens, and nothing is open that could resolve
            key = "" if episode_key is None else str(episode_key(ctx))
            if keys and not is_event_rule:
                # With resolve_when, every open episode lasts until it holds: a new key
                # (the next missed installment, a worse class) adds an episode, it does
                # not end a delinquency that continues. Without it, an episode ends when
                # the condition turns false or holds for another key.
                ends = (not fired) if resolve_when is None else resolve_when(ctx)
                for other, episode in list(keys.items()):
                    if episode.open and (ends or (resolve_when is None and other != key)):
                        episode.open = False
                        episode.owner = None
                        moved = None if ends else key  # the condition holds, for another key
                        out.append(
                            self._warning(
                                record,
                                rule,
                                ctx,
                                other,
                                episode,
                                "resolved",
                                event,
                                when,
                                card,
                                moved_to=moved,
                            )
                        )
            if not fired:
                continue
            state = keys.get(key) if keys else None
            if state is not None and state.open:
                continue  # the episode is already known: stay quiet
            if (
                state is not None
                and state.last_opened is not None
                and (today - state.last_opened).days < rule.cooldown_days
            ):
                continue
            state = record.episodes.ensure(rule_id, key)
            state.seq += 1
            state.last_opened = today
            state.open = not is_event_rule
            state.owner = (rule.version, rule.severity, rule.owner_team) if state.open else None
            out.append(self._warning(record, rule, ctx, key, state, "open", event, when, card))
        if not by_rule.keys() <= self._ids:
            out.extend(self._retire(record, ctx, event, when))
        return out

    def _retire(
        self, record: LoanRecord, ctx: RuleContext, event: Event | None, when: datetime
    ) -> list[RiskWarning]:
        """Resolve the open episodes of rules that left the pack.

        The episodes stay in the book, closed: a rule that comes back continues
        its numbering and cooldown. A rule this engine never saw (the worker
        restarted on a pack without it) is named by its id alone.
        """
        out: list[RiskWarning] = []
        loan, pack = record.loan, self.pack
        for rule_id in sorted(record.episodes.by_rule.keys() - self._ids):
            rule = self.retired.get(rule_id)
            for key, state in sorted(record.episodes.by_rule[rule_id].items()):
                if not state.open:
                    continue
                state.open = False
                remembered, state.owner = state.owner, None
                message = (
                    f"Rule {rule_id} is no longer in rule pack {pack.name} "
                    f"version {pack.version}: its episode is closed"
                )
                out.append(
                    self._emit(
                        loan,
                        rule_id,
                        key,
                        state,
                        "resolved",
                        ctx,
                        event,
                        when,
                        version=_retired_field(rule, remembered, 0, 0),
                        severity=_retired_field(rule, remembered, 1, "info"),
                        owner_team=_retired_field(rule, remembered, 2, RETIRED_OWNER),
                        message=message,
                    )
                )
        return out

    def _warning(
        self,
        record: LoanRecord,
        rule: Rule,
        ctx: RuleContext,
        key: str,
        state: EpisodeState,
        status: str,
        event: Event | None,
        when: datetime,
        card: ScoreCard | None = None,
        *,
        moved_to: str | None = None,
    ) -> RiskWarning:
        reads, uses_model = self._reads[rule.id]
        return self._emit(
            record.loan,
            rule.id,
            key,
            state,
            status,
            ctx,
            event,
            when,
            version=rule.version,
            severity=rule.severity,
            owner_team=rule.owner_team,
            message=(
                rule.render_message(ctx) if status == "open" else _resolved(rule, ctx, moved_to)
            ),
            reasons=tuple([Reason(name, get(ctx)) for name, get in reads]),
            card=card if uses_model else None,
            score=ctx.scores.get("pd") if uses_model else None,
        )

    def _emit(
        self,
        loan: LoanState,
        rule_id: str,
        key: str,
        state: EpisodeState,
        status: str,
        ctx: RuleContext,
        event: Event | None,
        when: datetime,
        *,
        version: int,
        severity: str,
        owner_team: str,
        message: str,
        reasons: tuple[Reason, ...] = (),
        card: ScoreCard | None = None,
        score: float | None = None,
    ) -> RiskWarning:
        """The warning of one episode of one rule, opening or resolving."""
        opened = state.last_opened or ctx.today
        return RiskWarning(
            warning_id=warning_id(loan.loan_id, rule_id, key, state.seq, opened),
            status="open" if status == "open" else "resolved",
            loan_id=loan.loan_id,
            borrower_id=loan.borrower_id,
            rule_id=rule_id,
            rule_version=version,
            pack_digest=self.pack.digest,
            severity=severity,
            owner_team=owner_team,
            message=message,
            episode=state.seq,
            episode_key=key,
            reasons=reasons,
            score=score,
            model_reasons=card.reasons if card is not None else (),
            model_version=card.version if card is not None else None,
            dpd=loan.dpd,
            bucket=loan.bucket,
            klass=loan.klass,
            event_id=event.event_id
            if event is not None
            else clock_step_id(loan.loan_id, ctx.today),
            event_time=when.astimezone(UTC),
            produced_at=ctx.now,
        )

    def _act(
        self,
        record: LoanRecord,
        warnings: list[RiskWarning],
        event: Event | None,
        today: date,
        now: datetime,
        next_due: date | None,
    ) -> list[Action]:
        loan = record.loan
        due: list[tuple[str, str, dict[str, Any], str]] = [
            (kind, name, params, "workflow")
            for kind, name, params in record.workflow.step(
                today=today,
                dpd=loan.dpd,
                klass=loan.klass,
                klass_downgraded=loan.klass_downgraded,
                next_due=next_due,
                active=loan.status == "active",
                policy=self.workflows,
            )
        ]
        if warnings:
            rules = self.pack.by_id
            for warning in warnings:
                if warning.status != "open":
                    continue
                rule = rules[warning.rule_id]
                if rule.action is not None:
                    params = dict(rule.action.params)
                    due.append((rule.action.kind, rule.action.name, params, rule.id))
        event_id = event.event_id if event is not None else clock_step_id(loan.loan_id, today)
        return [
            Action(
                action_id=action_id(loan.loan_id, kind, name, today),
                kind=kind,  # type: ignore[arg-type]
                name=name,
                loan_id=loan.loan_id,
                borrower_id=loan.borrower_id,
                due_on=today,
                reason=reason,
                params=tuple(sorted(params.items())),
                event_id=event_id,
                produced_at=now,
            )
            for kind, name, params, reason in due
        ]
