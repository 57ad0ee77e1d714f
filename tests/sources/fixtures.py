"""Fixture responses written from the networks' documented shapes (see the README "Sources"
section for the endpoints), and a config writer for feeds with nested options."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from monitor.runtime import Runtime
from monitor.storage.engine import make_engine, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.tables import Feed, MentionRow, PostRow
from tests.conftest import REPO, make_settings

NOW = datetime.now(UTC).replace(microsecond=0)

# Texts that mention the shipped topics (love-letter needs a context term such as V or IU).
FAN_TEXTS = [
    "V singing Love Letter in the Love wins all behind the scenes 😭💜",
    "Taehyung&#39;s Love Letter cover &amp; IU&#39;s smile &lt;3",
    "뷔 러브레터 너무 좋아 BTS 💜",
    "テテのラブレター、IUのLove wins allのメイキングで聴ける",
    "Why is the Love Letter clip from BTS V so short? disappointed",
    "IU Love wins all MV behind the scenes with V is out",
]
UNRELATED = "What a lovely day for a picnic"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def write_feeds_config(
    path: Path,
    feeds: list[dict[str, Any]],
    *,
    extra: str = "",
    topics_extra: str = "",
    fetch: dict[str, Any] | None = None,
) -> Path:
    """Write the shipped topics plus `feeds` (nested options as inline tables); `fetch`
    overrides keys of the [fetch] table."""
    base = (REPO / "config" / "monitor.toml").read_text(encoding="utf-8")
    base = base[: base.index("[[feeds]]")]
    # The fixture servers listen on the loopback, which the config must allow.
    fetch = {"allow_networks": ["127.0.0.0/8", "::1/128"], **(fetch or {})}
    if fetch:
        lines = [line for line in base.splitlines() if line.split("=")[0].strip() not in fetch]
        at = lines.index("[fetch]") + 1
        lines[at:at] = [f"{key} = {toml_value(value)}" for key, value in fetch.items()]
        base = "\n".join(lines) + "\n"
    if topics_extra:
        base = base.replace('name = "love-letter"\n', f'name = "love-letter"\n{topics_extra}\n', 1)
    lines = [base, extra]
    for feed in feeds:
        lines.append("[[feeds]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in feed.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_runtime(tmp_path: Path, database_url: str, feeds: list[dict[str, Any]], **kw: Any):
    config = write_feeds_config(tmp_path / "monitor.toml", feeds, **kw)
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    return Runtime.start(make_settings(tmp_path, config, database_url))


def feed_row(runtime: Runtime, name: str) -> Feed:
    with session_scope(runtime.sessions) as session:
        row = session.scalar(select(Feed).where(Feed.name == name))
        session.expunge(row)
        return row


def stored_ids(runtime: Runtime, network: str | None = None) -> list[str]:
    with session_scope(runtime.sessions) as session:
        query = select(PostRow.external_id).order_by(PostRow.external_id)
        if network:
            query = query.where(PostRow.network == network)
        return list(session.scalars(query))


def stored_post(runtime: Runtime, external_id: str) -> PostRow:
    with session_scope(runtime.sessions) as session:
        row = session.scalar(select(PostRow).where(PostRow.external_id == external_id))
        session.expunge(row)
        return row


def mention_count(runtime: Runtime) -> int:
    with session_scope(runtime.sessions) as session:
        return session.scalar(select(func.count(MentionRow.id))) or 0


def mentioned_ids(runtime: Runtime) -> list[str]:
    with session_scope(runtime.sessions) as session:
        return sorted(
            set(
                session.scalars(
                    select(PostRow.external_id).join(MentionRow, MentionRow.post_id == PostRow.id)
                )
            )
        )


# --- Mastodon: GET /api/v1/timelines/tag/:tag (docs.joinmastodon.org/methods/timelines) ---


def mastodon_status(
    host: str,
    number: int,
    text: str,
    *,
    minutes_ago: int = 5,
    lang: str | None = "en",
    reblog: dict[str, Any] | None = None,
    local_id: str | None = None,
    edited: bool = False,
) -> dict[str, Any]:
    author = f"fan{number}"
    status_id = local_id or str(113456789012345000 + number)
    return {
        "id": status_id,
        "uri": f"https://{host}/users/{author}/statuses/{113456789012345000 + number}",
        "url": f"https://{host}/@{author}/{113456789012345000 + number}",
        "created_at": iso(NOW - timedelta(minutes=minutes_ago)),
        "edited_at": iso(NOW) if edited else None,
        "language": lang,
        "content": f'<p>{text} <a href="https://{host}/tags/LoveLetter" '
        f'class="mention hashtag">#<span>LoveLetter</span></a></p>'
        if text
        else "",
        "spoiler_text": "",
        "visibility": "public",
        "replies_count": 1,
        "reblogs_count": 3,
        "favourites_count": 12 + number,
        "reblog": reblog,
        "account": {"id": str(number), "acct": f"{author}@{host}", "display_name": author},
        "tags": [{"name": "loveletter"}],
    }


# --- Bluesky: app.bsky.feed.searchPosts and com.atproto.server.createSession ---


def jwt(exp: datetime, subject: str = "did:plc:fixture") -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'ES256K'})}.{part({'sub': subject, 'exp': int(exp.timestamp())})}.sig"


def bluesky_hit(number: int, text: str, *, minutes_ago: int, langs: list[str] | None = None):
    did = f"did:plc:fan{number}"
    return {
        "uri": f"at://{did}/app.bsky.feed.post/3kxyz{number:04d}",
        "cid": f"bafyrei{number}",
        "author": {"did": did, "handle": f"fan{number}.bsky.social", "displayName": "Fan"},
        "record": {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": iso(NOW - timedelta(minutes=minutes_ago)),
            "langs": langs or ["en"],
        },
        "replyCount": 2,
        "repostCount": 5,
        "likeCount": 40 + number,
        "quoteCount": 1,
        "indexedAt": iso(NOW - timedelta(minutes=minutes_ago)),
    }


# --- Reddit: Listing of t3 things (/r/{sub}/new, /search) ---


def reddit_thing(number: int, title: str, *, minutes_ago: int, **extra: Any) -> dict[str, Any]:
    base36 = "1abc" + "0123456789abcdefghijklmnopqrstuvwxyz"[number]
    data = {
        "id": base36,
        "name": f"t3_{base36}",
        "subreddit": "bangtan",
        "title": title,
        "selftext": "",
        "author": f"army{number}",
        "created_utc": (NOW - timedelta(minutes=minutes_ago)).timestamp(),
        "permalink": f"/r/bangtan/comments/{base36}/post/",
        "url": "https://youtu.be/fixture",
        "score": 100 + number,
        "num_comments": 7,
        "over_18": False,
        "edited": False,
    }
    data.update(extra)
    return {"kind": "t3", "data": data}


def reddit_listing(children: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {"after": after, "before": None, "dist": len(children), "children": children},
    }


# --- YouTube: commentThreads.list and videos.list?part=statistics ---


def youtube_thread(number: int, text: str, *, minutes_ago: int, edited: bool = False):
    published = iso(NOW - timedelta(minutes=minutes_ago))
    return {
        "kind": "youtube#commentThread",
        "id": f"UgxThread{number}",
        "snippet": {
            "videoId": "LWAvideo01",
            "totalReplyCount": number % 3,
            "isPublic": True,
            "topLevelComment": {
                "id": f"UgxThread{number}",
                "snippet": {
                    "textOriginal": text,
                    "authorDisplayName": f"@viewer{number}",
                    "authorChannelId": {"value": f"UC{number}"},
                    "likeCount": 900 + number,
                    "publishedAt": published,
                    "updatedAt": iso(NOW) if edited else published,
                },
            },
        },
    }


# --- X: GET /2/tweets/search/recent ---


def x_tweet(number: int, text: str, *, minutes_ago: int, retweet_of: str | None = None):
    tweet = {
        "id": str(1958000000000000000 + number),
        "text": text,
        "author_id": str(12345 + number),
        "created_at": iso(NOW - timedelta(minutes=minutes_ago)),
        "lang": "en",
        "public_metrics": {
            "retweet_count": 120,
            "reply_count": 8,
            "like_count": 950 + number,
            "quote_count": 4,
        },
        "edit_history_tweet_ids": [str(1958000000000000000 + number)],
    }
    if retweet_of:
        tweet["referenced_tweets"] = [{"type": "retweeted", "id": retweet_of}]
    return tweet
