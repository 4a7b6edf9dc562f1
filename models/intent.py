"""Intent of collection notes and borrower messages, in Chinese and English.

`IntentClassifier` reads a note as character n-grams (1 to 3 characters, digits
folded to ``0``): Chinese needs no word segmenter that way, and English
inflections share most of their n-grams. A multinomial naive Bayes learns one
note at a time, from a small built-in labelled set (``intent_seed.json``, zh +
en) at construction and then from the labels collectors give later
(`IntentClassifier.learn_one`).

Labels (`INTENTS`): ``promise_to_pay``, ``hardship``, ``dispute``, ``refusal``,
``unreachable`` (the borrower cannot be contacted at all: number out of service,
unknown at the address, lost to family and employer; one unanswered call is
``other``), ``other``. For a promise, `promise_date` reads the date when one is stated:
ISO or slashed dates, ``3月5日``, ``March 5`` / ``5 March``, a day of the month
(``15号``, ``the 15th``), weekdays (``下周五``, ``next Friday``, ``周五``,
``by Friday``), ``明天``/``tomorrow``, ``后天``, ``N天内``/``in N days``, and
``月底``/``end of the month``. Dates are resolved against the note's own day.

Examples
--------
>>> from datetime import date
>>> clf = IntentClassifier()
>>> result = clf.predict_one("客户说下周五还", today=date(2026, 3, 2))
>>> result.label, result.promise_date
('promise_to_pay', datetime.date(2026, 3, 13))
>>> clf.predict_one("I lost my job and have no income", today=date(2026, 3, 2)).label
'hardship'
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any, Final

from river import feature_extraction as _feature_extraction
from river import naive_bayes as _naive_bayes

from rules.events import NOTE_INTENTS

__all__ = ["INTENTS", "Intent", "IntentClassifier", "char_ngrams", "promise_date", "seed_notes"]

# river's text and naive Bayes classes are not annotated.
feature_extraction: Any = _feature_extraction
naive_bayes: Any = _naive_bayes

INTENTS: Final = NOTE_INTENTS
"""The labels, in a fixed order: the event contract's, which collectors' labels carry."""

_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")


def char_ngrams(text: str) -> list[str]:
    """Character 1- to 3-grams of a note, digits folded to ``0``, spaces squeezed.

    >>> char_ngrams("Ab 12")
    ['a', 'b', ' ', '0', '0', ' a', 'ab', 'b ', ' 0', '00', '0 ', ' ab', 'ab ', 'b 0', ' 00', '00 ']
    """
    text = " " + _SPACE.sub(" ", _DIGIT.sub("0", text.lower())).strip() + " "
    grams = [c for c in text[1:-1]]
    for n in (2, 3):
        grams.extend(text[i : i + n] for i in range(len(text) - n + 1))
    return grams


def seed_notes() -> list[tuple[str, str]]:
    """The built-in labelled notes as (text, label), from ``models/intent_seed.json``."""
    raw = resources.files("models").joinpath("intent_seed.json").read_text(encoding="utf-8")
    return [(text, label) for label, text in json.loads(raw)]


@dataclass(frozen=True, slots=True)
class Intent:
    """What a note says: its label, the classifier's probability of it, a promised date."""

    label: str
    confidence: float
    promise_date: date | None = None


# Dates --------------------------------------------------------------------

_ZH_DIGITS: Final = {c: i for i, c in enumerate("零一二三四五六七八九十")} | {"两": 2}
_MONTHS: Final = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS_EN: Final = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_WEEKDAYS_ZH: Final = {c: i for i, c in enumerate("一二三四五六日")} | {"天": 6}
_NUM = r"(\d{1,2}|[零一二两三四五六七八九十]{1,3})"

_ISO = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_ZH_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
_EN_MONTH_DAY = re.compile(r"\b([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b")
_EN_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]{3})[a-z]*\b")
_ZH_DAY = re.compile(r"(\d{1,2})\s*[号日]")
_EN_DAY = re.compile(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b")
_ZH_WEEKDAY = re.compile(r"(下)?(?:周|星期|礼拜)([一二三四五六日天])")
_EN_WEEKDAY = re.compile(r"\b(next\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)")
_IN_DAYS = re.compile(r"\bin\s+(\d{1,2})\s+days?\b|" + _NUM + r"\s*天[内后之]")
_MONTH_END = re.compile(r"月底|月末|end of (?:the |this )?month")


def _zh_number(token: str) -> int:
    if token.isdigit():
        return int(token)
    if token.startswith("十"):  # 十, 十五
        return 10 + (_ZH_DIGITS[token[1]] if len(token) > 1 else 0)
    if len(token) > 1 and token[1] == "十":  # 二十, 二十五
        return _ZH_DIGITS[token[0]] * 10 + (_ZH_DIGITS[token[2]] if len(token) > 2 else 0)
    return _ZH_DIGITS.get(token[0], 0)


def _safe(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _upcoming(today: date, month: int, day: int) -> date | None:
    """This year's ``month/day``, or next year's when that has passed."""
    found = _safe(today.year, month, day)
    if found is not None and found < today:
        found = _safe(today.year + 1, month, day)
    return found


def _day_of_month(today: date, day: int) -> date | None:
    """The next ``day`` of a month on or after today."""
    found = _safe(today.year, today.month, day)
    if found is None or found < today:
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        found = _safe(year, month, day)
    return found


def _weekday(today: date, weekday: int, next_week: bool) -> date:
    if next_week:  # the given day of the week after this one (weeks start on Monday)
        return today - timedelta(days=today.weekday()) + timedelta(days=7 + weekday)
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _explicit_date(text: str, today: date) -> date | None:
    if m := _ISO.search(text):
        return _safe(int(m[1]), int(m[2]), int(m[3]))
    if m := _ZH_MONTH_DAY.search(text):
        return _upcoming(today, int(m[1]), int(m[2]))
    if (m := _EN_MONTH_DAY.search(text)) and m[1] in _MONTHS:
        return _upcoming(today, _MONTHS[m[1]], int(m[2]))
    if (m := _EN_DAY_MONTH.search(text)) and m[2] in _MONTHS:
        return _upcoming(today, _MONTHS[m[2]], int(m[1]))
    if m := _ZH_DAY.search(text) or _EN_DAY.search(text):
        return _day_of_month(today, int(m[1]))
    return None


def promise_date(text: str, today: date) -> date | None:
    """The day a note promises payment on, or ``None`` when it states none.

    Examples
    --------
    >>> today = date(2026, 3, 2)  # a Monday
    >>> promise_date("will pay on 2026-03-05", today)
    datetime.date(2026, 3, 5)
    >>> promise_date("3月5日前还款", today), promise_date("下周五还", today)
    (datetime.date(2026, 3, 5), datetime.date(2026, 3, 13))
    >>> promise_date("pay by Friday", today), promise_date("三天内还", today)
    (datetime.date(2026, 3, 6), datetime.date(2026, 3, 5))
    >>> promise_date("I will pay soon", today) is None
    True
    """
    text = text.lower()
    found = _explicit_date(text, today)
    if found is not None:
        return found
    if "后天" in text or "day after tomorrow" in text:
        return today + timedelta(days=2)
    if "明天" in text or "tomorrow" in text:
        return today + timedelta(days=1)
    if "今天" in text or "today" in text or "tonight" in text:
        return today
    if m := _ZH_WEEKDAY.search(text):
        return _weekday(today, _WEEKDAYS_ZH[m[2]], next_week=m[1] is not None)
    if m := _EN_WEEKDAY.search(text):
        return _weekday(today, _WEEKDAYS_EN[m[2]], next_week=m[1] is not None)
    if m := _IN_DAYS.search(text):
        return today + timedelta(days=_zh_number(m[1] or m[2]))
    if _MONTH_END.search(text):
        last = calendar.monthrange(today.year, today.month)[1]
        return today.replace(day=last)
    return None


# The classifier -----------------------------------------------------------


class IntentClassifier:
    """Online intent classifier over character n-grams (see the module docstring).

    Parameters
    ----------
    seed
        Learn the built-in labelled notes first (on by default, so the model
        is useful before any collector has labelled a note).
    """

    def __init__(self, *, seed: bool = True) -> None:
        self.vectorizer = feature_extraction.BagOfWords(
            lowercase=False, strip_accents=False, tokenizer=char_ngrams
        )
        self.classifier = naive_bayes.MultinomialNB(alpha=0.1)
        self.learned = 0
        self.seeded = seed
        if seed:
            for text, label in seed_notes():
                self.learn_one(text, label)

    def proba_one(self, text: str) -> dict[str, float]:
        """The probability of each label (all zero before anything was learned)."""
        proba = self.classifier.predict_proba_one(self.vectorizer.transform_one(text))
        return {label: float(proba.get(label, 0.0)) for label in INTENTS}

    def predict_one(self, text: str, today: date) -> Intent:
        """The most likely label, with the promised date when the label is a promise."""
        proba = self.proba_one(text)
        label = max(INTENTS, key=proba.__getitem__) if self.learned else "other"
        when = promise_date(text, today) if label == "promise_to_pay" else None
        return Intent(label, proba[label], when)

    def learn_unseen_labels(self) -> int:
        """Learn the seed's notes of every label this model has never seen; how many.

        A model restored from a checkpoint written before a label joined `INTENTS`
        would otherwise never predict it until collectors had labelled such notes;
        this gives it the label's seed notes, as a new model has. A no-op for a
        model that has seen every label (so a checkpoint of the current code
        restores with identical predictions), and for one built without the seed
        (checkpoints from before ``seeded`` was kept were all seeded).
        """
        if not getattr(self, "seeded", True):
            return 0
        seen = set(self.classifier.class_counts)
        fresh = [(text, label) for text, label in seed_notes() if label not in seen]
        for text, label in fresh:
            self.learn_one(text, label)
        return len(fresh)

    def learn_one(self, text: str, label: str) -> None:
        """Learn a labelled note; unknown labels are learned as ``other``."""
        self.classifier.learn_one(
            self.vectorizer.transform_one(text), label if label in INTENTS else "other"
        )
        self.learned += 1
