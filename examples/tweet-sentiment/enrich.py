"""Sentiment and keywords for a tweet: a lexicon score (data/lexicon.tsv) and the words that are not stop words."""
import os
import re

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
_TOKEN = re.compile(r"#?[a-z0-9']+")


def _load():
    lexicon = {}
    with open(os.path.join(_DATA, 'lexicon.tsv')) as f:
        for line in f:
            if line.strip() and not line.startswith('#'):
                word, score = line.split('\t')
                lexicon[word] = int(score)
    with open(os.path.join(_DATA, 'stopwords.txt')) as f:
        stop = {w.strip() for w in f if w.strip()}
    return lexicon, stop


LEXICON, STOP_WORDS = _load()


def enrich(tweet):
    """The tweet with `sentiment` (score, label), `keywords` (at most 5, in order) and `hashtags` added."""
    tokens = _TOKEN.findall(tweet['text'].lower())
    score = sum(LEXICON.get(t, 0) for t in tokens)
    keywords = []
    for t in tokens:
        if not t.startswith('#') and len(t) >= 3 and t not in STOP_WORDS and t not in LEXICON and t not in keywords:
            keywords.append(t)
    return dict(tweet,
                sentiment={'score': score, 'label': 'positive' if score > 0 else 'negative' if score < 0 else 'neutral'},
                keywords=keywords[:5],
                hashtags=[t for t in tokens if t.startswith('#')])
