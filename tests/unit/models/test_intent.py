from __future__ import annotations

from datetime import date

import pytest

from models import INTENTS, IntentClassifier, promise_date
from models.intent import seed_notes

MONDAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("will pay on 2026-03-05", date(2026, 3, 5)),
        ("承诺2026年4月1日还款", date(2026, 4, 1)),
        ("3月5日前还款", date(2026, 3, 5)),
        ("1月10号还", date(2027, 1, 10)),  # already past this year: next year's
        ("下周五还", date(2026, 3, 13)),
        ("周五还", date(2026, 3, 6)),
        ("星期一一定还", date(2026, 3, 9)),  # today is Monday: the next one
        ("pay next Monday", date(2026, 3, 9)),
        ("promise to pay 5000 on March 10", date(2026, 3, 10)),
        ("will pay 10 April", date(2026, 4, 10)),
        ("I'll settle it by the 15th", date(2026, 3, 15)),
        ("工资到了就还，大概1号", date(2026, 4, 1)),
        ("明天还", date(2026, 3, 3)),
        ("后天一定还", date(2026, 3, 4)),
        ("will transfer tomorrow", date(2026, 3, 3)),
        ("保证三天内还上", date(2026, 3, 5)),
        ("in 10 days", date(2026, 3, 12)),
        ("十五天后还", date(2026, 3, 17)),
        ("月底前还清", date(2026, 3, 31)),
        ("can pay at the end of the month", date(2026, 3, 31)),
    ],
)
def test_promise_date_reads_stated_dates_in_chinese_and_english(text: str, expected: date) -> None:
    assert promise_date(text, MONDAY) == expected


@pytest.mark.parametrize("text", ["I will pay soon", "尽快还款", "2月30日还"])
def test_promise_date_is_none_without_a_valid_stated_date(text: str) -> None:
    assert promise_date(text, MONDAY) is None


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("he promised to pay on Friday", "promise_to_pay"),
        ("客户答应下周三还款", "promise_to_pay"),
        ("lost his job, no money for now", "hardship"),
        ("住院了，没钱还", "hardship"),
        ("says the fee is wrong and he already paid", "dispute"),
        ("客户说这笔钱不是他借的", "dispute"),
        ("refuses to pay, told us to stop calling", "refusal"),
        ("明确拒绝还款", "refusal"),
        ("number out of service and the borrower is unknown at his address", "unreachable"),
        ("客户已失联，紧急联系人也找不到他", "unreachable"),
        ("no answer, left voicemail", "other"),
        ("电话一直无人接听", "other"),
    ],
)
def test_seeded_classifier_reads_unseen_notes_in_both_languages(text: str, label: str) -> None:
    assert IntentClassifier().predict_one(text, MONDAY).label == label


def test_a_promise_carries_its_date_and_other_labels_none() -> None:
    clf = IntentClassifier()
    promise = clf.predict_one("客户承诺3月5日前还款", MONDAY)
    assert promise.label == "promise_to_pay" and promise.promise_date == date(2026, 3, 5)
    assert 0.0 < promise.confidence <= 1.0
    assert clf.predict_one("拒绝还款，3月5日再说也不还", MONDAY).promise_date is None


def test_labels_given_later_teach_a_new_phrasing() -> None:
    clf = IntentClassifier()
    text = "borrower went to the ombudsman over the statement"
    before = clf.proba_one(text)["dispute"]
    for _ in range(3):
        clf.learn_one(text, "dispute")
    assert clf.proba_one(text)["dispute"] > max(before, 0.5)
    assert clf.predict_one(text, MONDAY).label == "dispute"


def test_the_seed_set_covers_every_label_in_both_languages() -> None:
    notes = seed_notes()
    for label in INTENTS:
        texts = [t for t, lab in notes if lab == label]
        assert any(t.isascii() for t in texts) and any(not t.isascii() for t in texts)
    untrained = IntentClassifier(seed=False)
    assert untrained.predict_one("anything", MONDAY).label == "other"


def test_the_rules_read_a_score_of_every_label_but_other() -> None:
    from rules.vocabulary import VOCABULARY

    read_by_rules = {name.removeprefix("model.intent_") for name in VOCABULARY if "intent_" in name}
    assert read_by_rules == set(INTENTS) - {"other"}


def test_a_model_that_saw_every_label_or_none_learns_nothing_more_from_the_seed() -> None:
    seeded, blank = IntentClassifier(), IntentClassifier(seed=False)
    counts = dict(seeded.classifier.class_counts)
    assert (seeded.learn_unseen_labels(), blank.learn_unseen_labels()) == (0, 0)
    assert dict(seeded.classifier.class_counts) == counts
    assert blank.predict_one("客户失联", MONDAY).label == "other"
    blank.learn_one("collector's own words", "refusal")
    assert blank.learn_unseen_labels() == 0  # never seeded: collectors' labels alone
