"""The default (original) FollowBench rule checks against an oracle written here.

The oracle below restates the authors' rule definitions (code/rule_based_evaluation.py and
code_zh/rule_based_evaluation.py of YJiangcm/FollowBench, read and rewritten, not copied) as
plainly as possible, in a different shape from alignkit's implementation. Every rule-scored
record of the real data (English and Chinese, from ../shared) gets answers probing the edges
where a lenient check would differ - surrounding whitespace, trailing explanations, changed
case, quotes, reordered fields, extra lines, Chinese punctuation - and alignkit's default
verdict must equal the oracle's on all of them.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Callable
from pathlib import Path

import pytest

from alignkit.followbench import Record, find_check, load_followbench

from conftest import shared_file

SOURCES = (
    *("E2E", "WIKIEVENTS", "CONLL2003", "text_editing"),
    *("cnn_dailymail", "xsum", "samsum", "gigaword", "arxiv"),
    *("BBH_logical", "BBH_time", "self_made_space", "gsm_8k"),
)


# ---------------------------------------------------------------- the oracle


def oracle_routes(rec: Record) -> bool:
    format_ids = [22, 30] if rec.language == "en" else [22]
    return (
        rec.category == "example"
        or rec.source in SOURCES
        or (rec.level_category == "format" and rec.example_id in format_ids)
    )


def _sents(text: str, zh: bool) -> list[str]:
    return [s for s in re.split("[。！？]" if zh else r"[.!?]", text) if s]


def _word(text: str, word: str, zh: bool) -> bool:
    return bool(re.search(word if zh else r"\b" + re.escape(word) + r"\b", text))


def _nth_has(text: str, n: int, word: str, zh: bool) -> bool:
    s = _sents(text, zh)
    return len(s) >= n and _word(s[n - 1], word, zh)


def _size(text: str, zh: bool) -> int:
    return len(text) if zh else len(text.split(" "))


def _summary_levels(src: str, zh: bool) -> list[Callable[[str], bool]]:
    punct = string.punctuation + ("，。：’“”" if zh else "")
    if src == "cnn_dailymail":
        w = ["波特", "演员", "电影"] if zh else ["Potter", "actor", "films"]
        return [
            lambda g: len(_sents(g, zh)) == 3,
            lambda g: not any((len(s) if zh else len(s.split())) >= 15 for s in _sents(g, zh)),
            lambda g: (
                _nth_has(g, 1, w[0], zh) and _nth_has(g, 2, w[1], zh) and _nth_has(g, 3, w[2], zh)
            ),
            lambda g: not _nth_has(g, 2, "奢侈" if zh else "lavish", zh),
            (lambda g: _nth_has(g, 3, "了", zh))
            if zh
            else (
                lambda g: (
                    len(_sents(g, zh)) >= 3
                    and bool(re.search(r"\b(has|have)\s+\w+", _sents(g, zh)[2]))
                )
            ),
        ]
    if src == "xsum":
        return [
            lambda g: len(_sents(g, zh)) == 1,
            lambda g: _size(g, zh) < 20,
            lambda g: not _word(g, "牛顿斯图尔特" if zh else "Newton Stewart", zh),
            (lambda g: _word(g, "在", zh))
            if zh
            else (lambda g: bool(re.search(r"\b(am|is|are)\s+\w+ing\b", g))),
            lambda g: _word(g, "操作" if zh else "operation", zh),
        ]
    if src == "samsum":
        return [
            lambda g: len(_sents(g, zh)) == 1,
            lambda g: _size(g, zh) < 15,
            lambda g: _word(g, "琐碎的" if zh else "stuff", zh),
            (lambda g: not _word(g, "拖沓的", zh))
            if zh
            else (lambda g: not re.search("procrast", g, re.I)),
            lambda g: len([c for c in g if c in punct]) == 1,
        ]
    if src == "gigaword":
        return [
            lambda g: _size(g, zh) == 8,
            lambda g: all(c not in punct for c in g),
            (lambda g: not any(c.isnumeric() for c in g)) if zh else (lambda g: g.islower()),
            lambda g: not _word(g, "公交车" if zh else "bus", zh),
            lambda g: _word(g, "在" if zh else "in", zh),
        ]
    assert src == "arxiv"
    return [
        lambda g: len(_sents(g, zh)) == 1,
        lambda g: _size(g, zh) <= 20,
        lambda g: g.startswith("我们" if zh else "We"),
        lambda g: _word(g, "激活" if zh else "activations", zh),
        lambda g: not _word(g, "transformer", zh),
    ]


def _format22(g: str, level: int, zh: bool) -> bool:
    paras = g.split("\n\n")
    checks = [
        len(paras) == (4 if level == 5 else 3),
        level < 2 or all(len(_sents(p, zh)) < 3 for p in paras[:3]),
        level < 3 or all((len(s) if zh else len(s.split())) > 20 for s in _sents(g, zh)),
        level < 4 or all(not p.lstrip() or re.match(r"\d+\.", p.lstrip()) for p in paras),
        level < 5 or g.endswith("这些是建议" if zh else "Those are suggestions"),
    ]
    # the paragraph count decides first (later checks index the first three paragraphs)
    return checks[0] and all(checks[1:])


def _format30(g: str, level: int) -> bool:
    sents = re.split(r"(?<!\w\.\w.)(?<![A-Z][a-z]\.)(?<=\.|\?)\s", g)
    keyed = [s for s in sents if any(f"{k}." in s for k in range(1, 6))]
    wanted = [
        "**" in g,
        len(re.findall(r"\*\*\d.+?:", g)) == 5,
        all(len(s.split(".")) < 3 for s in keyed),
        all(10 <= len(s.split()) <= 15 for s in sents),
        all(not w.endswith("-ly") for s in sents for w in s.split()),
    ]
    return all(wanted[:level])


def oracle(rec: Record, g: str) -> bool:
    zh, t, lvl = rec.language == "zh", rec.target, rec.level
    if rec.category == "example":
        tpl = t.replace("{instruction}\n", "").replace("{{", "{").replace("}}", "}")
        pattern = re.escape(tpl.replace("{answer}", ".*")).replace(re.escape(".*"), ".*")
        return re.fullmatch(pattern, g) is not None
    src = rec.source
    if src in ("E2E", "text_editing"):
        return g == t
    if src == "WIKIEVENTS":
        return set(g.split("\n")) <= set(t.split("\n"))
    if src == "CONLL2003":
        return g in ast.literal_eval(t)
    if src in ("BBH_logical", "BBH_time", "gsm_8k"):
        pattern = {
            "BBH_logical": r"\([A-Z]\)",
            "BBH_time": r"\d{2}/\d{2}/\d{4}",
            "gsm_8k": r"\d+美元" if zh else r"\$\d+",
        }[src]
        found = re.findall(pattern, g)
        return bool(found) and found[-1] == t
    if src == "self_made_space":
        return t in g
    if src in SOURCES:
        return all(test(g) for test in _summary_levels(src, zh)[:lvl])
    return _format22(g, lvl, zh) if rec.example_id == 22 else _format30(g, lvl)


# ---------------------------------------------------------------- answers that probe the edges

SUMMARY_SEEDS = {
    "en": [
        "Daniel Radcliffe turns 18 and gains access to a fortune. The young actor says he "
        "stays modest. He has saved money for books and films.",
        "Flood repair operation is continuing across the Scottish Borders.",
        "Kim will try the pomodoro technique to get stuff done.",
        "at least two people killed in southern philippines attack",
        "at least two people killed in southern philippines",
        "We locate factual associations in mid-layer activations and edit them directly.",
        "We edit transformer activations.",
    ],
    "zh": [
        "拉德克利夫满十八岁波特。这位演员很低调。他存钱看电影了。",
        "边境地区的修复操作正在进行。",
        "金会试试番茄法做琐碎的事。",
        "南部菲律宾有人遇难在",
        "我们在中层激活中定位事实关联。",
    ],
}
FORMAT_SEEDS = {
    22: [
        "1. Plan your days ahead and keep a list of the tasks that matter most to you this week."
        "\n\n"
        "2. Sleep at regular hours so that your mind stays fresh and ready for the next day.\n\n"
        "3. Take short breaks between long tasks so that your focus lasts through the afternoon."
        "\n\nThose are suggestions",
        "First paragraph.\n\nSecond paragraph.\n\nThird paragraph.",
        "1. 每天提前规划好你的日程安排并且列出本周最重要的各项任务以便集中精力完成它们。\n\n"
        "2. 保持规律的作息时间让你的头脑始终保持清醒并为第二天的工作做好充分的准备。\n\n"
        "3. 在长时间的任务之间安排短暂的休息这样你的注意力才能一直持续到下午结束。\n\n这些是建议",
    ],
    30: [
        "**1. Growth:** Small steps every day build a strong base for the years ahead of you.\n"
        "**2. Health:** Regular walks and good sleep keep your body ready for hard work.\n"
        "**3. Focus:** One task at a time gives better results than rushing through many.\n"
        "**4. Money:** Saving a small part of each pay keeps stress low in bad months.\n"
        "**5. Friends:** Good people around you make the hard days feel much lighter too.",
        "**1. Growth:** Quickly grow.",
    ],
}


def _base_answers(rec: Record) -> list[str]:
    t = rec.target
    if rec.category == "example":
        template = t.replace("{instruction}\n", "").replace("{{", "{").replace("}}", "}")
        answers = [template.replace("{answer}", "Paris")]
        return answers + ([rec.answer] if rec.answer else [])
    if rec.source in ("E2E", "text_editing"):
        return [t]
    if rec.source == "WIKIEVENTS":
        lines = t.split("\n")
        return ["\n".join(lines[:2]), lines[0]]
    if rec.source == "CONLL2003":
        entities = ast.literal_eval(t)
        return [entities[0], entities[-1]]
    if rec.source in ("BBH_logical", "BBH_time", "gsm_8k", "self_made_space"):
        return [t, f"So the answer is {t}.", f"{t} (A) 01/01/2000 $3 3美元"]
    if rec.source in SOURCES:
        return SUMMARY_SEEDS[rec.language]
    return FORMAT_SEEDS[rec.example_id]


def _reorder(text: str) -> str:
    for sep in ("\n", "，", ", "):
        parts = text.split(sep)
        if len(parts) > 1:
            return sep.join(reversed(parts))
    return text


ZH_PUNCT = str.maketrans(
    {",": "，", ".": "。", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
)

PROBES: dict[str, Callable[[str], str]] = {
    "as_is": lambda a: a,
    "surrounding_whitespace": lambda a: f"  {a}\n",
    "trailing_newline": lambda a: a + "\n",
    "trailing_explanation": lambda a: a + "\n\nI hope this helps.",
    "leading_text": lambda a: "Sure! Here is the answer: " + a,
    "upper_case": str.upper,
    "lower_case": str.lower,
    "double_quotes": lambda a: f'"{a}"',
    "single_quotes": lambda a: f"'{a}'",
    "reordered": _reorder,
    "extra_line": lambda a: a + "\n" + a,
    "blank_line_inside": lambda a: a.replace("\n", "\n\n", 1) if "\n" in a else a + "\n\n",
    "chinese_punctuation": lambda a: a.translate(ZH_PUNCT),
    "final_stop_removed": lambda a: a.rstrip(".。"),
    "double_spaces": lambda a: a.replace(" ", "  "),
    "empty": lambda a: "",
}


def _rule_records(folder: Path) -> list[Record]:
    return [r for r in load_followbench(folder).records() if oracle_routes(r)]


@pytest.mark.parametrize(
    ("language", "folder", "expected"), [("en", "data", 350), ("zh", "data_zh", 330)]
)
def test_default_verdicts_equal_the_original_on_every_rule_record(
    language: str, folder: str, expected: int
) -> None:
    records = _rule_records(shared_file("followbench", folder))
    assert len(records) == expected  # English: the 350 rule items of the paper
    total, agree, passed = 0, 0, 0
    disagreements = []
    probed_sources = set()
    for rec in records:
        check = find_check(rec)  # the default: original rules
        assert check is not None, rec.item_id
        for base in _base_answers(rec):
            for name, probe in PROBES.items():
                answer = probe(base)
                want = oracle(rec, answer)
                got = check(rec, answer).passed
                total += 1
                passed += want
                if got == want:
                    agree += 1
                else:
                    disagreements.append((rec.item_id, name, answer[:80], want, got))
        probed_sources.add(rec.source if rec.category != "example" else "example")
    print(f"{language}: {agree}/{total} verdicts agree ({100 * agree / total:.2f}%)")
    assert not disagreements, disagreements[:10]
    # the probes exercise both verdicts on a real share of the answers
    assert 0.1 < passed / total < 0.9, passed / total


@pytest.mark.parametrize("folder", ["data", "data_zh"])
def test_the_judged_items_are_exactly_the_others(folder: str) -> None:
    for rec in load_followbench(shared_file("followbench", folder)).records():
        assert (find_check(rec) is not None) == oracle_routes(rec), rec.item_id


def test_format_chains_22_and_30_are_rule_scored() -> None:
    en = load_followbench(shared_file("followbench", "data"))
    zh = load_followbench(shared_file("followbench", "data_zh"))
    for chain_id, data, ruled in (
        ("format/22", en, True),
        ("format/30", en, True),
        ("format/22", zh, True),
        ("format/30", zh, False),
    ):
        chain = next(c for c in data.chains if c.chain_id == chain_id)
        assert all((find_check(r) is not None) == ruled for r in chain.records), chain_id


def test_strict_edges_the_lenient_checks_pass() -> None:
    """Hand-picked cases where the original fails what the lenient checks accepted."""
    data = load_followbench(shared_file("followbench", "data"))
    chains = {c.chain_id: c for c in data.chains}
    example = chains["example/2"].record(1)
    for answer, strict in (("BOT: Sports", True), ("  BOT: Sports\n", False), ("BOT: a\nb", False)):
        assert find_check(example)(example, answer).passed is strict
        assert find_check(example, "lenient")(example, answer).passed
    e2e = next(c for c in data.chains if c.source == "E2E").record(1)
    reordered = ", ".join(reversed(e2e.target.split(", ")))
    assert not find_check(e2e)(e2e, reordered).passed
    assert find_check(e2e, "lenient")(e2e, reordered).passed
