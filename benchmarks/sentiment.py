"""Sentiment benchmark: stock VADER vs this project's scorer, fandom layer off and on.

Usage (from the repository root):

    .venv/bin/python benchmarks/sentiment.py [--vader-data ../shared/data/vader] [--rounds 25]

Prints three tables:

1. The VADER paper's human-rated sets (tweets, movie reviews, Amazon reviews, NYT editorial
   snippets): Pearson r of compound vs the human mean, and three-way macro-F1 (human label:
   mean >= 0.5 positive, <= -0.5 negative, else neutral; scorer label: VADER's +-0.05). Our
   scorer with the fandom layer off and on, the texts declared English (as a network's
   language field would); then on, with the language detected: a text detected as another
   language is unscored, counts as 0/neutral here, and the last column gives the share scored.
2. tests/data/fandom_posts.tsv (hand-labelled fan posts): accuracy and macro-F1, each post
   scored for its topic (so the titles are masked).
3. Throughput on the fan posts in the same run: raw VADER vs the full scorer (language ID +
   masking + lexicon + VADER), texts per second on one core (best round), and the median of
   the per-round ratios; rounds are short and interleaved. Each step of the full scorer is
   also timed alone (best round; its ratio is of the best rates), with its cost per text.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from monitor.config import load_config  # noqa: E402
from monitor.language import detect_language  # noqa: E402
from monitor.scoring import Scorer, TextScorer  # noqa: E402

LABELS = ("positive", "neutral", "negative")
VADER_SETS = {
    "tweets": "tweets_GroundTruth.txt",
    "movie": "movieReviewSnippets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}


def label_of(compound: float, band: float = 0.05) -> str:
    """Return the three-way label of a score with a neutral band of +-`band`."""
    if compound >= band:
        return "positive"
    if compound <= -band:
        return "negative"
    return "neutral"


def human_label(mean: float) -> str:
    """Return the three-way label of a human mean rating (-4 .. +4), neutral band +-0.5."""
    return "positive" if mean >= 0.5 else "negative" if mean <= -0.5 else "neutral"


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Return the unweighted mean of the per-class F1 over the three labels."""
    scores = []
    for label in LABELS:
        tp = sum(t == p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(p == label != t for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label != p for t, p in zip(truth, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Return Pearson's r of two equally long series."""
    return statistics.correlation(xs, ys)


def read_vader_set(path: Path) -> list[tuple[float, str]]:
    """Return (human mean, text) rows of one ground-truth file."""
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.rstrip("\r").split("\t")
        if len(parts) >= 3:
            rows.append((float(parts[1]), "\t".join(parts[2:])))
    return rows


def read_fandom_set(path: Path) -> list[dict[str, str]]:
    """Return the labelled fan posts."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def scored_compound(scorer: TextScorer, text: str, lang: str | None) -> tuple[float, bool]:
    """Return (compound, was scored) for a text in `lang` (None: detect); unscored counts as 0."""
    result = scorer.score(text, lang=lang)
    if result.sentiment is None:
        return 0.0, False
    return result.sentiment.compound, True


def seconds(function: Callable[[], object]) -> float:
    """Return the wall-clock seconds one call of `function` takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vader-data", type=Path, default=ROOT.parent / "shared/data/vader")
    parser.add_argument("--fandom", type=Path, default=ROOT / "tests/data/fandom_posts.tsv")
    parser.add_argument("--config", type=Path, default=ROOT / "config/monitor.toml")
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()

    stock = SentimentIntensityAnalyzer()
    config = load_config(args.config)
    scorer = Scorer.from_config(config)
    off = TextScorer(lexicon=None)
    on = scorer.default

    rows = []
    for name, filename in VADER_SETS.items():
        path = args.vader_data / filename
        if not path.exists():
            print(f"skipping {name}: {path} not found", file=sys.stderr)
            continue
        data = read_vader_set(path)
        humans = [mean for mean, _ in data]
        truth = [human_label(mean) for mean in humans]
        stock_scores = [stock.polarity_scores(text)["compound"] for _, text in data]
        row: list[object] = [name, len(data)]
        row += [f"{pearson(stock_scores, humans):.3f}"]
        row += [f"{macro_f1(truth, [label_of(s) for s in stock_scores]):.3f}"]
        for variant, lang in ((off, "en"), (on, "en"), (on, None)):
            results = [scored_compound(variant, text, lang) for _, text in data]
            scores = [compound for compound, _ in results]
            row += [f"{pearson(scores, humans):.3f}"]
            row += [f"{macro_f1(truth, [label_of(s) for s in scores]):.3f}"]
        coverage = sum(ok for _, ok in results) / len(results)
        row += [f"{coverage:.1%}"]
        rows.append(row)
    print("VADER human-rated sets (r: Pearson vs human mean; F1: three-way macro-F1)\n")
    print(
        table(
            [
                "set",
                "texts",
                "stock r",
                "stock F1",
                "layer off r",
                "layer off F1",
                "layer on r",
                "layer on F1",
                "+ lang ID r",
                "+ lang ID F1",
                "scored",
            ],
            rows,
        )
    )

    posts = read_fandom_set(args.fandom)
    truth = [post["label"] for post in posts]
    stock_labels = [label_of(stock.polarity_scores(p["text"])["compound"]) for p in posts]
    results = [scorer.for_topic(p["topic"]).score(p["text"]) for p in posts]
    ours_labels = [label_of(r.sentiment.compound) if r.sentiment else "neutral" for r in results]
    plain = Scorer.from_config(
        config.model_copy(
            update={
                "topics": [t.model_copy(update={"fandom_lexicon": False}) for t in config.topics]
            }
        )
    )
    masked_labels = []
    for post in posts:
        result = plain.for_topic(post["topic"]).score(post["text"])
        masked_labels.append(label_of(result.sentiment.compound) if result.sentiment else "neutral")

    def accuracy(labels: Sequence[str]) -> str:
        return f"{sum(t == p for t, p in zip(truth, labels, strict=True)) / len(truth):.3f}"

    print(f"\nFandom set ({len(posts)} hand-labelled fan posts, tests/data/fandom_posts.tsv)\n")
    print(
        table(
            ["scorer", "accuracy", "macro-F1"],
            [
                ["stock VADER", accuracy(stock_labels), f"{macro_f1(truth, stock_labels):.3f}"],
                [
                    "ours, masking only (layer off)",
                    accuracy(masked_labels),
                    f"{macro_f1(truth, masked_labels):.3f}",
                ],
                [
                    "ours, masking + fandom layer",
                    accuracy(ours_labels),
                    f"{macro_f1(truth, ours_labels):.3f}",
                ],
            ],
        )
    )

    texts = [post["text"] for post in posts] * 2
    topics = [post["topic"] for post in posts] * 2

    def full_scorer() -> None:
        for text, topic in zip(texts, topics, strict=True):
            scorer.for_topic(topic).score(text)

    # The full scorer's steps alone, each on what it gets in the scorer: masking on the posts,
    # phrase rewriting on the masked posts, VADER (with the fandom lexicon) on the result.
    steps = [scorer.for_topic(topic) for topic in topics]
    masked = [s.mask.apply(t) if s.mask else t for s, t in zip(steps, texts, strict=True)]
    prepared = [
        (s.lexicon.prepare(m) if s.lexicon else m).strip()
        for s, m in zip(steps, masked, strict=True)
    ]
    analyzers = [s.analyzer for s in steps]

    # Many short interleaved rounds: the machine's load drifts less between neighbours. Rates
    # are the best round of each; the ratio is the median of the rounds' own ratios. The steps
    # alone run after the full scorer, so raw VADER, detection and the full scorer follow
    # each other as they always have.
    raw_s, detect_s, full_s, ratios = math.inf, math.inf, math.inf, []
    mask_s, prepare_s, vader_s = math.inf, math.inf, math.inf
    for _ in range(args.rounds):
        raw_round = seconds(lambda: [stock.polarity_scores(t) for t in texts])
        detect_s = min(detect_s, seconds(lambda: [detect_language(t) for t in texts]))
        full_round = seconds(full_scorer)
        raw_s, full_s = min(raw_s, raw_round), min(full_s, full_round)
        ratios.append(raw_round / full_round)
        mask_s = min(
            mask_s,
            seconds(lambda: [s.mask.apply(t) for s, t in zip(steps, texts, strict=True) if s.mask]),
        )
        prepare_s = min(
            prepare_s,
            seconds(
                lambda: [
                    s.lexicon.prepare(m) for s, m in zip(steps, masked, strict=True) if s.lexicon
                ]
            ),
        )
        vader_s = min(
            vader_s,
            seconds(
                lambda: [a.polarity_scores(t) for a, t in zip(analyzers, prepared, strict=True)]
            ),
        )
    raw, full = len(texts) / raw_s, len(texts) / full_s
    ratio = statistics.median(ratios)
    print(
        f"\nThroughput ({len(texts)} short fan posts a round, one core, {args.rounds} interleaved"
        " rounds: best rate, median ratio)\n"
    )

    def alone(name: str, best_s: float) -> list[str]:
        rate = len(texts) / best_s
        return [name, f"{rate:,.0f}", f"{rate / raw:.2f}x", f"{best_s / len(texts) * 1e6:.1f}"]

    print(
        table(
            ["step", "texts/s", "vs raw VADER", "us/text"],
            [
                alone("raw VADER (polarity_scores)", raw_s),
                alone("language ID alone", detect_s),
                alone("masking alone", mask_s),
                alone("lexicon phrase rewriting alone", prepare_s),
                alone("VADER + fandom lexicon alone, on the masked, rewritten texts", vader_s),
                [
                    "full scorer (lang ID + masking + lexicon + VADER)",
                    f"{full:,.0f}",
                    f"{ratio:.2f}x",
                    f"{full_s / len(texts) * 1e6:.1f}",
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
