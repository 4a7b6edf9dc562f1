from __future__ import annotations

import random
from datetime import timedelta

import pytest
from loans import NOW, START, note, open_loan, repay, tick, transaction

from models import CheckpointError, Drift, HubConfig, ModelHub, PendingLabels, pd_features
from models.intent import IntentClassifier, seed_notes
from rules.loan import LoanState


def walk(hub: ModelHub, loan: LoanState, pending: PendingLabels, days: int, pay: bool) -> None:
    """A loan's life through the hub: a score and an outcome check every 10 days."""
    n = 100
    for offset in range(10, days, 10):
        day = START + timedelta(days=offset)
        if pay and offset % 30 == 0:
            n += 1
            repay(loan, day, 101_000, n)
        else:
            tick(loan, day)
        hub.score(loan, labels=pending, now=NOW)
        hub.observe_outcome(loan, pending, now=NOW)


def trained_hub(candidate: str = "logistic", loans: int = 40) -> ModelHub:
    hub = ModelHub(HubConfig(pd_candidate=candidate, horizon_days=60, spacing_days=10))
    rng = random.Random(7)
    for i in range(loans):
        loan, pending = open_loan(f"T-{i}"), hub.new_labels()
        walk(hub, loan, pending, 200, pay=rng.random() < 0.6)
    return hub


def test_a_loan_that_stops_paying_teaches_the_hub_bad_and_a_payer_good() -> None:
    hub = trained_hub()
    assert hub.pd_learned > 100
    figures = hub.metrics()["pd"]
    assert figures["n"] == hub.pd_learned and figures["roc_auc"] > 0.9
    late, paying = open_loan("late"), open_loan("paying")
    tick(late, START + timedelta(days=100))
    repay(paying, START + timedelta(days=30), 101_000, 1)
    tick(paying, START + timedelta(days=55))
    # The late loan is past the alert threshold (0.35), the paying one far below it.
    assert hub.score(late, now=NOW).pd > 0.35 > 0.1 > hub.score(paying, now=NOW).pd


def test_no_label_reaches_a_score_made_before_the_label_was_known() -> None:
    hub = trained_hub(loans=10)
    probe = pd_features(open_loan("probe"))
    loan, pending = open_loan("leak"), hub.new_labels()
    steps = []
    for offset in range(10, 200, 10):  # never pays: reaches 60 DPD (bad_dpd) on the way
        tick(loan, START + timedelta(days=offset))
        learned_before = hub.pd_learned
        p_probe = hub.pd.predict_one(probe)
        scores = hub.score(loan, labels=pending, now=NOW)
        # Scoring learns nothing for the PD: same label count, same predictions.
        assert hub.pd_learned == learned_before and hub.pd.predict_one(probe) == p_probe
        steps.append((scores, pd_features(loan), list(pending.vectors), loan.dpd))
        hub.observe_outcome(loan, pending, now=NOW)
        if pending.closed:
            break
    assert pending.closed and loan.dpd >= hub.config.bad_dpd == 60
    # The bad label arrived only in the last step, after that step's score was made.
    assert steps[-1][0].model_version != hub.model_version
    assert all(dpd < 60 for *_, dpd in steps[:-1])
    # What waits for a label is exactly the vector that was scored, never a later state.
    for _, scored_x, kept, _ in steps:
        if kept:
            assert kept[-1] == scored_x
    assert sum(1 for _, _, kept, _ in steps if kept) >= 5


@pytest.mark.parametrize("candidate", ["logistic", "ensemble"])
def test_restored_checkpoint_gives_identical_scores(candidate: str) -> None:
    hub = trained_hub(candidate, loans=15)
    loan = open_loan("probe")
    tick(loan, START + timedelta(days=70))
    txn = transaction(loan, START + timedelta(days=71), "out", 400_000, "securities", 7)
    text = note(loan, START + timedelta(days=71), "客户说下周五还", 8)
    restored = ModelHub.from_bytes(hub.to_bytes())
    for event in (None, txn, text):
        assert restored.score(loan, event=event, now=NOW) == hub.score(loan, event=event, now=NOW)
    assert restored.model_version == hub.model_version


def test_a_broken_checkpoint_raises_a_checkpoint_error() -> None:
    with pytest.raises(CheckpointError, match="not a ModelHub"):
        ModelHub.from_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot be read"):
        ModelHub.from_bytes(b"LWMH\x01not a pickle")


def test_account_movements_get_an_anomaly_score_and_notes_an_intent() -> None:
    hub = ModelHub()
    loan = open_loan("acct")
    scores = None
    for i in range(300):
        event = transaction(loan, START + timedelta(days=1 + i // 10), "out", 2_000, "merchant", i)
        scores = hub.score(loan, event=event, now=NOW)
    assert scores is not None and scores.anomaly is not None and scores.intent is None
    usual = scores.anomaly
    big = transaction(loan, START + timedelta(days=31), "out", 590_000, "other_lender", 999)
    odd = hub.score(loan, event=big, now=NOW)
    assert odd.anomaly is not None and odd.anomaly > usual
    said = hub.score(
        loan, event=note(loan, START + timedelta(days=31), "I lost my job", 1000), now=NOW
    )
    assert said.anomaly is None and said.intent is not None and said.intent.label == "hardship"
    rule_scores = said.rule_scores()
    assert rule_scores["intent_hardship"] == 1.0 and rule_scores["intent_dispute"] == 0.0


def test_a_jump_in_the_pd_error_is_drained_as_a_drift_for_the_model_owners() -> None:
    hub = ModelHub()
    rng = random.Random(1)
    xs = [{"dpd": rng.uniform(0, 60)} for _ in range(1500)]
    hub.learn_pd([(x, x["dpd"] > 30) for x in xs[:1000]], now=NOW)
    assert hub.drain_drifts() == []  # learning and getting better is no drift warning
    hub.learn_pd([(x, x["dpd"] < 30) for x in xs[1000:]], now=NOW)  # the world turned over
    drifts = [d for d in hub.drain_drifts() if d.metric == "log_loss"]
    assert drifts and isinstance(drifts[0], Drift)
    assert drifts[0].model == "pd" and drifts[0].after > drifts[0].before
    assert drifts[0].detected_at == NOW and drifts[0].to_dict()["metric"] == "log_loss"
    assert hub.drain_drifts() == []


def test_a_collector_label_is_judged_then_learned() -> None:
    hub = ModelHub()
    text = "账单有问题，金额对不上"
    hub.learn_intent(text, "dispute", now=NOW)
    hub.learn_intent(text, "dispute", now=NOW)
    assert hub.intent_learned == 2 and hub.metrics()["intent"]["n"] == 2
    assert hub.intent.predict_one(text, NOW.date()).label == "dispute"
    assert hub.model_version.endswith("intent.2")


def test_a_shift_in_the_book_dpd_is_drained_as_a_feature_drift() -> None:
    hub = ModelHub(HubConfig(spacing_days=1))
    current, late = open_loan("current"), open_loan("late")
    tick(late, START + timedelta(days=75))
    for i, loan in enumerate([current] * 400 + [late] * 400):
        pending = PendingLabels(spacing_days=1)  # a fresh store: every score keeps a snapshot
        hub.score(loan, labels=pending, now=NOW + timedelta(minutes=i))
    drifts = [d for d in hub.drain_drifts() if d.metric == "feature.dpd"]
    assert drifts and drifts[0].model == "pd"
    assert drifts[0].before == 0.0 and drifts[0].after > 0.0


def test_a_repaid_loan_labels_its_pending_snapshots_good() -> None:
    hub = ModelHub()
    loan, pending = open_loan("repaid", months=1), hub.new_labels()
    hub.score(loan, labels=pending, now=NOW)
    repay(loan, START + timedelta(days=20), 101_000, 1)
    assert loan.status == "closed"
    assert hub.observe_outcome(loan, pending, now=NOW) == 1
    assert hub.pd_learned == 1 and pending.closed


def test_a_checkpoint_from_before_a_label_existed_learns_that_labels_seed_on_restore() -> None:
    old = ModelHub()
    old.intent = IntentClassifier(seed=False)
    for text, label in seed_notes():
        if label != "unreachable":  # the seed before that label joined the contract
            old.intent.learn_one(text, label)
    del old.intent.seeded  # as in checkpoints of that time
    loan = open_loan("gone")
    tick(loan, START + timedelta(days=70))
    gone = note(loan, START + timedelta(days=71), "客户失联，电话空号，住址查无此人", 8)
    assert old.score(loan, event=gone, now=NOW).intent.label != "unreachable"

    restored = ModelHub.from_bytes(old.to_bytes())

    assert restored.score(loan, event=gone, now=NOW).intent.label == "unreachable"
    assert restored.intent.classifier.class_counts["unreachable"] == sum(
        1 for _, label in seed_notes() if label == "unreachable"
    )
    again = ModelHub.from_bytes(restored.to_bytes())  # every label seen: nothing more learned
    assert again.intent.classifier.class_counts == restored.intent.classifier.class_counts
    assert again.score(loan, event=gone, now=NOW) == restored.score(loan, event=gone, now=NOW)
