#!/usr/bin/env bash
# The tweet sentiment tutorial: a boto3 producer puts gzipped tweets into a 2-shard stream; Firehose archives the raw
# records in S3; a consumer (a Python polling loop, then a .NET worker on Millrace.Consumer) scores each tweet's
# sentiment, extracts keywords and writes the enriched documents to S3.
source "$(dirname "$0")/../lib.sh"
start_millrace
count=$(wc -l < "$example_dir/data/tweets.jsonl")

step aws s3 mb s3://tweets-raw
step aws s3 mb s3://tweets-enriched
step python3 "$example_dir/producer.py" tweets --create-only

# The raw archive: Firehose reads the stream (from LATEST, so it is made before the tweets are put) into S3.
step aws_unvalidated firehose create-delivery-stream --delivery-stream-name tweets-archive --delivery-stream-type KinesisStreamAsSource \
  --kinesis-stream-source-configuration KinesisStreamARN=arn:aws:kinesis:us-east-1:000000000000:stream/tweets,RoleARN=arn:aws:iam::000000000000:role/firehose-role \
  --extended-s3-destination-configuration '{"RoleARN": "arn:aws:iam::000000000000:role/firehose-role", "BucketARN": "arn:aws:s3:::tweets-raw",
    "Prefix": "raw/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 5}}'
wait_for '[[ $(aws firehose describe-delivery-stream --delivery-stream-name tweets-archive --query DeliveryStreamDescription.DeliveryStreamStatus --output text) == ACTIVE ]]' 30

step python3 "$example_dir/producer.py" tweets
(cd "$example_dir" && step python3 consumer.py tweets tweets-enriched "$count")

echo
echo "\$ dotnet build SentimentWorker && dotnet SentimentWorker.dll tweets tweets-enriched $count data"
dotnet build "$example_dir/SentimentWorker" -c Release --nologo -v quiet > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
dotnet "$example_dir/SentimentWorker/bin/Release/net10.0/SentimentWorker.dll" tweets tweets-enriched "$count" "$example_dir/data"

echo
echo "== waiting for the Firehose archive (5 s buffer)"
wait_for '[[ -n $(aws s3api list-objects-v2 --bucket tweets-raw --query "Contents[].Key" --output text | grep -v None) ]]' 60
step aws s3 ls s3://tweets-raw --recursive
key=$(aws s3api list-objects-v2 --bucket tweets-raw --query 'Contents[0].Key' --output text)
echo
echo "== the archive holds the records as they were put, each its own gzip member: gunzip reads them all"
aws s3 cp "s3://tweets-raw/$key" - | gunzip | python3 -c 'import sys, json; d = json.JSONDecoder(); s = sys.stdin.read(); i = n = 0
while i < len(s):
    o, i = d.raw_decode(s, i); n += 1
print(f"   {n} tweets in {sys.argv[1]}")' "$key"

echo
echo "\$ aws s3 ls s3://tweets-enriched/enriched/ --recursive --summarize | tail -2"
aws s3 ls s3://tweets-enriched/enriched/ --recursive --summarize | tail -2
echo
echo "== a few enriched documents (the Python and the .NET consumer agree on each):"
for id in $(head -3 "$example_dir/data/tweets.jsonl" | python3 -c 'import sys, json; [print(json.loads(l)["id"]) for l in sys.stdin]'); do
  aws s3 cp "s3://tweets-enriched/enriched/python/$id.json" "$work/python.json" --quiet
  aws s3 cp "s3://tweets-enriched/enriched/dotnet/$id.json" "$work/dotnet.json" --quiet
  python3 "$example_dir/show.py" "$work/python.json" "$work/dotnet.json"
done
echo
echo "== done"
