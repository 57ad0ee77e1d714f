"""html_to_text and clean_text: markup from feeds to plain text any database accepts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.text import clean_text, html_to_text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<b>Love</b> <i>Letter</i>", "Love Letter"),
        ('<a href="https://x.example/" onclick="steal()">link</a>', "link"),
        ('<img src="x" onerror="alert(1)">after', "after"),
        ("a<!-- a comment -->b", "ab"),
        ("<span>plain</span>", "plain"),
    ],
)
def test_tags_are_stripped(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("Fans &amp; critics", "Fans & critics"),
        ("&lt;3 &quot;V&quot; &#39;IU&#39;", "<3 \"V\" 'IU'"),
        ("&#9829; &#x2665; &hearts;", "♥ ♥ ♥"),
        ("caf&eacute;", "café"),
        ("a&nbsp;b", "a\u00a0b"),
        ("AT&T", "AT&T"),
    ],
)
def test_entities_are_decoded(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_escaped_markup_becomes_literal_characters_not_tags() -> None:
    # Entities decode once: the result is text that merely looks like a tag.
    assert html_to_text("&lt;script&gt;x&lt;/script&gt;") == "<script>x</script>"


@pytest.mark.parametrize(
    "markup",
    [
        "Hi<script>alert('x')</script> there",
        "Hi<SCRIPT type='text/javascript'>alert('x')</SCRIPT> there",
        "Hi<style>body { color: red }</style> there",
        "Hi<template><p>alert('x')</p></template> there",
    ],
)
def test_script_style_and_template_content_is_dropped(markup: str) -> None:
    text = html_to_text(markup)

    assert "alert" not in text
    assert "color" not in text
    # Only the words: a <p> inside a dropped <template> still leaves a line break.
    assert text.split() == ["Hi", "there"]


def test_unclosed_script_drops_the_rest() -> None:
    assert html_to_text("Hi<script>alert('x')") == "Hi"


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("one<br>two", "one\ntwo"),
        ("one<br/>two<br />three", "one\ntwo\nthree"),
        ("<p>one</p><p>two</p>", "one\ntwo"),
        ("<p>one</p>\n\n\n<p>two</p>", "one\ntwo"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<div>one</div>two", "one\ntwo"),
    ],
)
def test_block_tags_and_br_become_line_breaks(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_spaces_inside_markup_are_folded() -> None:
    assert html_to_text("<p>  lots   of\t\tspace  </p>") == "lots of space"


def test_plain_text_passes_through_cleaned() -> None:
    assert html_to_text("  5 > 3 and 2 < 4  ") == "5 > 3 and 2 < 4"
    assert html_to_text("no markup at all") == "no markup at all"


def test_clean_text_removes_nul_and_other_c0_controls() -> None:
    assert clean_text("a\x00b") == "ab"
    assert clean_text("\x01\x02a\x07\x08b\x0b\x0c\x0e\x1b[0m\x1f\x7f") == "ab[0m"


def test_clean_text_keeps_newlines_and_turns_tabs_into_spaces() -> None:
    assert clean_text("one\ttwo\nthree") == "one two\nthree"
    assert clean_text("one\r\ntwo") == "one\ntwo"


def test_clean_text_folds_spaces_and_blank_lines() -> None:
    assert clean_text("  a    b  \n\n\n   \n  c  ") == "a b\nc"
    assert clean_text("   ") == ""


def test_clean_text_keeps_non_ascii() -> None:
    assert clean_text("뷔가 부른 러브레터 ♥ テテ") == "뷔가 부른 러브레터 ♥ テテ"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_output_never_holds_c0_controls_and_is_stripped(markup: str) -> None:
    for out in (clean_text(markup), html_to_text(markup)):
        assert not any(ord(c) < 0x20 and c != "\n" for c in out)
        assert "\x7f" not in out
        assert out == out.strip()
        assert "\n\n" not in out


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_clean_text_is_idempotent(text: str) -> None:
    once = clean_text(text)

    assert clean_text(once) == once
