"""Notifier pieces without a network: registry, routing, backoff, signing, payloads."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from monitor.config import parse_config
from monitor.errors import ConfigError, NotifyError, UnknownNotifierError
from monitor.notifiers import NOTIFIERS, AlertNotice, make_notifier
from monitor.notifiers.base import plain_text, subject_line
from monitor.notifiers.slack import slack_payload
from monitor.notifiers.webhook import sign, webhook_payload
from monitor.notify import backoff_seconds, routed

BASE = '[[topics]]\nname = "love-letter"\nphrases = ["Love Letter"]\n'
ALERT = {
    "id": 3,
    "topic": "love-letter",
    "kind": "spike",
    "observed": 40,
    "expected": 2.0,
    "score": 1e-9,
    "peak_count": 40,
    "peak_bucket": "2026-01-01T10:05:00Z",
    "opened_bucket": "2026-01-01T10:05:00Z",
    "samples": [{"text": "<@channel> <!here> Love Letter <script>"}],
}


def notice(event: str = "open", **changes: object) -> AlertNotice:
    return AlertNotice(3, event, {**ALERT, **changes})


def test_registry_covers_every_configurable_kind() -> None:
    from monitor.config import NOTIFIER_KINDS

    assert set(NOTIFIERS) == set(NOTIFIER_KINDS)
    for kind, cls in NOTIFIERS.items():
        assert cls.kind == kind

    class Odd:
        kind = "pigeon"

    with pytest.raises(UnknownNotifierError, match="pigeon"):
        make_notifier(Odd(), {})


def test_routing_by_topic_kind_and_event() -> None:
    config = parse_config(
        BASE
        + '[[topics]]\nname = "other"\nphrases = ["x"]\n'
        + '[[notifiers]]\nname = "a"\nkind = "webhook"\nurl = "https://h.example/"\n'
        + 'topics = ["other"]\n'
        + '[[notifiers]]\nname = "b"\nkind = "webhook"\nurl = "https://h.example/"\n'
        + 'alert_kinds = ["spike", "source"]\nevents = ["resolve"]\n'
    )
    only_other, resolves = config.notifiers
    assert not routed(only_other, notice())
    assert routed(only_other, notice(topic="other"))
    assert not routed(resolves, notice())
    assert routed(resolves, notice("resolve", kind="source"))


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(1.5, n) for n in (1, 2, 3)] == [1.5, 3.0, 6.0]
    assert backoff_seconds(10, 10) == 60.0


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k", "1700000000", body) == "sha256=" + expected
    assert sign("k", "1700000001", body) != sign("k", "1700000000", body)


def test_payloads_say_what_happened() -> None:
    assert subject_line([notice()]) == "[monitor] spike alert opened: love-letter"
    assert subject_line([notice(), notice("resolve")]) == "[monitor] 2 alert changes"
    text = plain_text([notice()])
    assert "40 mentions" in text and "expected 2.0" in text and "Love Letter" in text
    assert "Resolved" in plain_text([notice("resolve")])
    document = webhook_payload([notice(), notice("resolve")], digest=True)
    assert document["event"] == "digest" and [a["event"] for a in document["alerts"]] == [
        "open",
        "resolve",
    ]
    slack = slack_payload([notice()])
    block = slack["blocks"][0]["text"]["text"]
    assert "<!here>" not in block and "<@channel>" not in block and "<script>" not in block
    assert "&lt;!here&gt;" in block


def test_secrets_come_from_the_environment_only() -> None:
    with pytest.raises(ConfigError, match=r"notifiers\[0\]\.secret: unknown field"):
        parse_config(
            BASE + '[[notifiers]]\nname = "a"\nkind = "webhook"\nurl = "https://h.example/"\n'
            'secret = "literal"\n',
            source="monitor.toml",
        )
    with pytest.raises(ConfigError, match=r"monitor.toml: notifiers\[0\]\.password_env"):
        parse_config(
            BASE + '[[notifiers]]\nname = "m"\nkind = "email"\nsmtp_host = "h"\n'
            'from_addr = "a@b.example"\nto_addrs = ["c@d.example"]\npassword_env = "not a name"\n',
            source="monitor.toml",
        )
    config = parse_config(
        BASE + '[[notifiers]]\nname = "s"\nkind = "slack"\nurl_env = "SLACK_HOOK"\n'
    )
    with pytest.raises(NotifyError, match="SLACK_HOOK") as caught:
        make_notifier(config.notifiers[0], {"SLACK_HOOK": "ftp://hooks.example/T0/secret-part"})
    assert "secret-part" not in str(caught.value)


def test_notifier_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            BASE + '[[notifiers]]\nname = "a"\nkind = "webhook"\nurl = "ftp://x"\n'
            'topics = ["nope"]\n',
            source="monitor.toml",
        )
    assert "monitor.toml: notifiers[0].url: must be an http:// or https:// URL" in str(caught.value)
    with pytest.raises(ConfigError, match=r"notifiers\[0\]\.topics: unknown topic 'nope'"):
        parse_config(
            BASE + '[[notifiers]]\nname = "a"\nkind = "webhook"\nurl = "https://x.example"\n'
            'topics = ["nope"]\n'
        )
    with pytest.raises(ConfigError, match="notifiers: names must be unique"):
        parse_config(BASE + ('[[notifiers]]\nname = "a"\nkind = "slack"\nurl_env = "X"\n' * 2))


def test_re_alerts_and_every_alert_kind_can_be_routed() -> None:
    config = parse_config(
        BASE + '[[notifiers]]\nname = "all"\nkind = "webhook"\nurl = "https://h.example/"\n'
        'alert_kinds = ["spike", "drop", "climb", "sour"]\nevents = ["escalate", "surge"]\n'
    )
    [sink] = config.notifiers
    assert routed(sink, notice("escalate", kind="drop"))
    assert routed(sink, notice("surge", kind="sour"))
    assert not routed(sink, notice("open"))
    assert not routed(sink, notice("escalate", kind="source"))
    with pytest.raises(
        ConfigError, match=r"notifiers\[0\]\.events\[0\]: Input should be .open., .escalate."
    ):
        parse_config(
            BASE + '[[notifiers]]\nname = "a"\nkind = "webhook"\nurl = "https://h.example/"\n'
            'events = ["update"]\n'
        )


def test_each_re_alert_is_its_own_delivery() -> None:
    # Claimed per alert and key: a second escalation or a bigger surge is news again, the
    # same one is not.
    assert notice("open").delivery_key == "open"
    assert notice("resolve").delivery_key == "resolve"
    major, critical = notice("escalate", severity="major"), notice("escalate", severity="critical")
    assert (major.delivery_key, critical.delivery_key) == ("escalate:major", "escalate:critical")
    surges = {notice("surge", raised_count=n).delivery_key for n in (120, 300, 300)}
    assert surges == {"surge:120", "surge:300"}


def test_re_alert_messages_say_what_changed() -> None:
    escalated = notice("escalate", severity="critical", observed=400)
    assert subject_line([escalated]) == "[monitor] spike alert escalated: love-letter"
    assert plain_text([escalated]).startswith("Now critical: spike on love-letter: 400 mentions")
    surged = notice("surge", observed=900)
    assert subject_line([surged]) == "[monitor] spike alert surging: love-letter"
    assert plain_text([surged]).startswith("Surging: spike on love-letter: 900 mentions")
    assert webhook_payload([surged], digest=False)["event"] == "surge"


EXPLANATION = {
    "rising_terms": [{"term": t, "during": 8, "before": 0, "z": 3.3} for t in "abcdefg"],
    "sources": {"fans": 0.5, "news": 0.3, "kr": 0.15, "other": 0.05},
    "languages": {"en": 0.57, "ko": 0.24},
    "first_post": {
        "text": "<!channel> V sings\nLove Letter",
        "source": "news",
        "published_at": "2026-01-01T10:05:02Z",
    },
    "sentiment": {
        "during": {"mean_compound": 0.42, "negative_share": 0.16},
        "before": {"mean_compound": 0.55, "negative_share": 0.01},
    },
    "expected_events": [{"name": "LWA live", "start": "x", "end": "y"}],
}


def test_messages_say_why_from_the_stored_explanation() -> None:
    text = plain_text([notice(explanation=EXPLANATION)])
    assert "During the expected event LWA live" in text
    assert "Rising terms: a, b, c, d, e\n" in text  # the five that rose most
    assert "Sources: fans 50%, news 30%, kr 15%; languages: en 57%, ko 24%" in text
    assert "First post (2026-01-01T10:05:02Z, news): <!channel> V sings Love Letter" in text
    assert "Sentiment +0.42 during vs +0.55 before (negative 16% vs 1%)" in text
    block = slack_payload([notice(explanation=EXPLANATION)])["blocks"][0]["text"]["text"]
    assert "Rising terms: a, b, c, d, e" in block
    assert "<!channel>" not in block and "&lt;!channel&gt; V sings" in block
    # Nothing to explain: a resolve, or an alert stored without an explanation.
    assert "Rising terms" not in plain_text([notice("resolve", explanation=EXPLANATION)])
    assert "Rising terms" not in plain_text([notice(explanation=None)])
