"""Prints an enriched document (Python consumer's) and whether the .NET worker's agrees: show.py <python.json> <dotnet.json>"""
import json
import sys

with open(sys.argv[1]) as f:
    doc = json.load(f)
with open(sys.argv[2]) as f:
    other = json.load(f)
same = all(doc[k] == other[k] for k in ('sentiment', 'keywords', 'hashtags'))
sentiment = doc['sentiment']
print(f"   {doc['text']!r}")
print(f"     sentiment {sentiment['label']} ({sentiment['score']}), keywords {doc['keywords']}, hashtags {doc['hashtags']}, "
      f"{doc['kinesis']['shardId']}; the .NET worker agrees: {same}")
