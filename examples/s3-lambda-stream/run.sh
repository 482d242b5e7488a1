#!/usr/bin/env bash
# An S3 upload triggers a producer function that puts the file's text into an encrypted stream; two consumer
# functions with event-source mappings print what arrives, in their log groups.
source "$(dirname "$0")/../lib.sh"
start_millrace
cd "$work"
role=arn:aws:iam::000000000000:role/lambda-kinesis-role

step aws kinesis create-stream --stream-name s3-events --shard-count 1
aws kinesis wait stream-exists --stream-name s3-events
step aws kinesis start-stream-encryption --stream-name s3-events --encryption-type KMS --key-id alias/aws/kinesis
aws kinesis wait stream-exists --stream-name s3-events
step aws kinesis describe-stream-summary --stream-name s3-events --query 'StreamDescriptionSummary.{Status:StreamStatus,Encryption:EncryptionType,Key:KeyId}'

echo
echo "\$ zip producer.zip producer.py; zip consumer.zip consumer.py"
(cd "$example_dir" && python3 -m zipfile -c "$work/producer.zip" producer.py && python3 -m zipfile -c "$work/consumer.zip" consumer.py)
step aws lambda create-function --function-name s3-producer --runtime python3.12 --handler producer.lambda_handler \
  --role "$role" --zip-file fileb://producer.zip --query '{FunctionName:FunctionName,State:State}'
for consumer in consumer-1 consumer-2; do
  step aws lambda create-function --function-name "$consumer" --runtime python3.12 --handler consumer.lambda_handler \
    --role "$role" --zip-file fileb://consumer.zip --query '{FunctionName:FunctionName,State:State}'
done
for f in s3-producer consumer-1 consumer-2; do aws lambda wait function-active-v2 --function-name "$f"; done
for consumer in consumer-1 consumer-2; do
  step aws lambda create-event-source-mapping --function-name "$consumer" --batch-size 100 --starting-position TRIM_HORIZON \
    --event-source-arn arn:aws:kinesis:us-east-1:000000000000:stream/s3-events --query '{UUID:UUID,State:State}'
done

step aws s3 mb s3://s3-lambda-uploads
step aws lambda add-permission --function-name s3-producer --statement-id s3-invoke --action lambda:InvokeFunction \
  --principal s3.amazonaws.com --source-arn arn:aws:s3:::s3-lambda-uploads --query Statement --output text
step aws s3api put-bucket-notification-configuration --bucket s3-lambda-uploads --notification-configuration '{
  "LambdaFunctionConfigurations": [{
    "LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:s3-producer",
    "Events": ["s3:ObjectCreated:*"],
    "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".txt"}]}}}]}'

step aws s3 cp "$example_dir/hello.txt" s3://s3-lambda-uploads/hello.txt

echo
echo "== waiting for both consumers to print the record"
for consumer in consumer-1 consumer-2; do
  wait_for "log_messages /aws/lambda/$consumer | grep -q 'Hello from S3'" 60
done
echo
echo "== /aws/lambda/s3-producer:"
log_messages /aws/lambda/s3-producer
for consumer in consumer-1 consumer-2; do
  echo
  echo "== /aws/lambda/$consumer:"
  log_messages "/aws/lambda/$consumer"
done
echo
echo "== done"
