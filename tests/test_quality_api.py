"""Language identification and quality filters from Python on plain texts."""

from __future__ import annotations

import pytest

from alignkit.webr import default_quality_settings, detect_language, detect_languages, filter_texts

GOOD = (
    "The council met on Tuesday evening to discuss the new library. Residents asked whether "
    "the building would open on weekends, and the mayor said that the budget allows it for the "
    "first year. Several speakers praised the design, which keeps the old reading room and adds "
    "a garden where children can read in the summer. The final vote is planned for next month, "
    "after the public consultation has ended and the architects have answered all questions."
)


def test_detect_language() -> None:
    assert detect_language(GOOD).lang == "en"
    german = "Die Kinder spielen jeden Nachmittag im Garten hinter dem Haus."
    assert detect_language(german).lang == "de"
    assert detect_language("Les enfants jouent tous les après-midi dans le jardin.").lang == "fr"
    assert detect_language("") is None
    guesses = detect_languages([GOOD, "", "Это короткий текст на русском языке о погоде."])
    assert guesses[0].lang == "en" and guesses[1] is None and guesses[2].lang == "ru"
    assert 0.0 < guesses[0].confidence <= 1.0


def test_filters_keep_good_text_and_name_the_reason() -> None:
    junk = [
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 10,
        "short text",
        "#tag #tag #tag #tag " * 30,
    ]
    results = filter_texts([GOOD, *junk], ["en"] * 4)
    assert results[0].kept and results[0].text and "library" in results[0].text
    assert [r.kept for r in results[1:]] == [False, False, False]
    assert results[1].reason == "boilerplate_marker"
    assert results[2].reason == "too_few_words"
    assert results[3].reason is not None and results[3].detail


def test_settings_override_and_validation() -> None:
    assert not filter_texts(["short text"])[0].kept
    assert filter_texts(
        ["short text"],
        min_words=None,
        min_stop_words=None,
        min_punctuated_line_fraction=None,
        max_short_line_fraction=None,
        min_mean_word_length=None,
    )[0].kept
    pii = filter_texts(
        [GOOD + " Write to jane.doe@example.org or 192.168.10.7 today."], scrub_pii=True
    )[0]
    assert pii.kept and "<EMAIL>" in pii.text and "<IP>" in pii.text
    assert "example.org" not in pii.text
    with pytest.raises(ValueError, match="unknown quality setting"):
        filter_texts(["x"], min_wordz=3)
    with pytest.raises(ValueError):
        filter_texts(["x"], ["en", "de"])
    assert "min_words" in default_quality_settings()
