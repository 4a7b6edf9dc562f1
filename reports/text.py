"""Every word a report shows, in English and Simplified Chinese.

One catalogue, keyed by stable names, so the console can later show the same
strings: a key missing in one language is a test failure, not a blank cell.
Values that are data (rule ids, action steps, loan ids) are shown as stored;
labels with a fixed meaning (buckets' classes, severities, kinds) are translated.

>>> text("zh-CN", "klass.substandard"), text("en", "klass.substandard")
('次级', 'Substandard')
>>> label("en", "severity", "nonesuch")  # not in the catalogue: shown as stored
'nonesuch'
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["LANGS", "CATALOGUE", "Lang", "label", "text"]

Lang = Literal["en", "zh-CN"]
LANGS: Final[tuple[Lang, ...]] = ("en", "zh-CN")

CATALOGUE: Final[dict[str, tuple[str, str]]] = {
    # key: (English, 简体中文)
    "report.daily": ("Daily post-loan digest", "贷后日报"),
    "report.monthly": ("Monthly post-loan report", "贷后月报"),
    "meta.period": ("Period", "报告期"),
    "meta.generated": ("Generated", "生成时间"),
    "meta.data_last_day": ("Data up to", "数据截至"),
    "meta.database": ("Source", "数据来源"),
    "meta.no_data_day": ("no data yet", "暂无数据"),
    "empty": (
        "No data for this period: the loan book held no loans by its last day and no "
        "warning, transition or action falls in it. Check the period, and that the "
        "ClickHouse writer (`loanwatch sink clickhouse`) is running.",
        "本期无数据：截至报告期末贷款台账中没有贷款，本期也没有任何预警、迁移或处置动作。"
        "请核对报告期，并确认 ClickHouse 写入程序（`loanwatch sink clickhouse`）正在运行。",
    ),
    "after_data": (
        "The period ends after the newest data ({day}): figures after that day are missing, "
        "not zero.",
        "报告期晚于最新数据日（{day}）：此后的数字是缺失，而不是零。",
    ),
    "section.summary": ("Summary", "概览"),
    "section.portfolio_buckets": ("Portfolio by delinquency bucket", "资产质量：逾期分档"),
    "section.portfolio_classes": ("Portfolio by five-category class", "资产质量：五级分类"),
    "section.migrations": ("Migrations in the period", "本期迁移"),
    "section.roll_rates": ("Roll rates, month over month", "滚动率（月度迁移矩阵）"),
    "section.vintages": ("Vintages: ever 30+ DPD by months on book", "账龄分析：累计逾期30天以上"),
    "section.warnings_by_rule": ("Warnings opened, by rule", "新增预警（按规则）"),
    "section.top_warnings": ("Top warnings and their outcomes", "重点预警及其结果"),
    "section.rule_precision": ("Rule precision", "规则精确率"),
    "section.collections": ("Collection and review actions", "催收与复审动作"),
    "section.model_metrics": ("Model metrics and drift", "模型指标与漂移"),
    "section.drifts": ("Drift alarms", "漂移告警"),
    "note.portfolio": (
        "State on the period's last day. Principal is the amount disbursed: outstanding "
        "balances are not in ClickHouse.",
        "报告期末状态。本金为放款金额：ClickHouse 中没有未偿余额。",
    ),
    "note.roll_rates": (
        "Loans by bucket at the end of the month before, and where they stood at the end "
        "of this month.",
        "上月末各逾期分档的贷款在本月末所处分档。",
    ),
    "note.vintages": (
        "Share of each origination month's loans that reached M2 or worse, by months on book.",
        "各放款月份贷款按账龄累计进入 M2 及以上的比例。",
    ),
    "note.top_warnings": (
        "Most severe first, then highest score; the loan's bucket on the last day and "
        "whether the warning was resolved by then.",
        "按严重程度、再按评分排序；并列出期末分档及是否已解除。",
    ),
    "note.rule_precision": (
        "Of the loans each rule warned about by the period's end, those that reached 90+ DPD "
        "(M4 or worse) or were written off on or after the warning, by the same day.",
        "截至期末各规则预警过的贷款中，在预警当日或之后进入逾期90天以上（M4及以上）或核销的比例。",
    ),
    "note.model_metrics": (
        "Latest checkpoint by the period's end, per partition; change: since the first "
        "checkpoint in the period.",
        "各分区截至期末最新检查点的指标；变化：相对本期第一个检查点。",
    ),
    "note.collections": (
        "Actions due in the period; current at end: their loans in M0 on the last day.",
        "本期到期的动作；期末正常：其贷款在期末处于 M0 的数量。",
    ),
    "note.nothing": ("Nothing in this period.", "本期无记录。"),
    "col.metric": ("Measure", "指标"),
    "col.value": ("Value", "数值"),
    "col.bucket": ("Bucket", "逾期分档"),
    "col.klass": ("Class", "五级分类"),
    "col.loans": ("Loans", "贷款笔数"),
    "col.share": ("Share of loans", "笔数占比"),
    "col.principal": ("Principal", "本金"),
    "col.kind": ("Kind", "类型"),
    "col.from": ("From", "迁出"),
    "col.to": ("To", "迁入"),
    "col.roll_rate": ("Roll rate", "滚动率"),
    "col.cohort": ("Origination month", "放款月份"),
    "col.mob": ("Months on book", "账龄（月）"),
    "col.bad": ("Ever 30+ DPD", "累计逾期30+"),
    "col.bad_rate": ("Bad rate", "不良率"),
    "col.rule": ("Rule", "规则"),
    "col.severity": ("Severity", "严重程度"),
    "col.opened": ("Opened", "新增"),
    "col.resolved": ("Resolved by end", "期末已解除"),
    "col.bad_loans": ("Loans 30+ DPD at end", "期末逾期30+贷款"),
    "col.opened_at": ("Opened at", "预警时间"),
    "col.loan": ("Loan", "贷款编号"),
    "col.dpd": ("DPD", "逾期天数"),
    "col.score": ("Score", "评分"),
    "col.end_bucket": ("Bucket at end", "期末分档"),
    "col.warned_loans": ("Loans warned", "预警贷款"),
    "col.went_bad": ("Went bad", "变坏"),
    "col.precision": ("Precision", "精确率"),
    "col.step": ("Action", "动作"),
    "col.actions": ("Actions", "动作数"),
    "col.current_at_end": ("Current at end", "期末正常"),
    "col.current_share": ("Current share", "期末正常占比"),
    "col.model": ("Model", "模型"),
    "col.partition": ("Partition", "分区"),
    "col.labels": ("Labels learned", "已学习标签"),
    "col.roc_auc": ("ROC AUC", "ROC AUC"),
    "col.auc_change": ("AUC change", "AUC 变化"),
    "col.brier": ("Brier", "Brier"),
    "col.brier_change": ("Brier change", "Brier 变化"),
    "col.accuracy": ("Accuracy", "准确率"),
    "col.detected_at": ("Detected at", "发现时间"),
    "col.message": ("Message", "内容"),
    "summary.loans": ("Loans in the book", "在册贷款笔数"),
    "summary.principal": ("Principal disbursed", "放款本金"),
    "summary.delinquent": ("Delinquent (M1+) share", "逾期（M1+）占比"),
    "summary.dpd30": ("30+ DPD (M2+) share", "逾期30天以上（M2+）占比"),
    "summary.non_normal": ("Not Normal (five-category) share", "非正常类（五级分类）占比"),
    "summary.warnings": ("Warnings opened", "新增预警"),
    "summary.paging": ("Of which critical or high", "其中严重或高"),
    "summary.moves": ("Bucket moves", "分档迁移"),
    "summary.actions": ("Actions due", "到期动作"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "kind.bucket": ("Bucket", "逾期分档"),
    "kind.klass": ("Class", "五级分类"),
    "kind.collection_step": ("Collection", "催收"),
    "kind.review": ("Review", "复审"),
    "kind.care_offer": ("Care offer", "关怀方案"),
    "klass.normal": ("Normal", "正常"),
    "klass.special_mention": ("Special mention", "关注"),
    "klass.substandard": ("Substandard", "次级"),
    "klass.doubtful": ("Doubtful", "可疑"),
    "klass.loss": ("Loss", "损失"),
    "severity.critical": ("Critical", "严重"),
    "severity.high": ("High", "高"),
    "severity.medium": ("Medium", "中"),
    "severity.low": ("Low", "低"),
    "severity.info": ("Info", "提示"),
}


def text(lang: Lang, key: str) -> str:
    """The string for ``key`` in ``lang``; a missing key raises KeyError (a bug)."""
    english, chinese = CATALOGUE[key]
    return chinese if lang == "zh-CN" else english


def label(lang: Lang, family: str, value: str) -> str:
    """A stored label (``klass``/``normal``) in ``lang``, or as stored when not catalogued."""
    key = f"{family}.{value}"
    return text(lang, key) if key in CATALOGUE else value
