#!/usr/bin/env bash
# The course's Firehose demo: a Node.js transformation function, a DirectPut delivery stream to S3,
# `aws firehose put-record --record Data=100`, and the transformed object printed from S3.
source "$(dirname "$0")/../lib.sh"
start_millrace
cd "$work"

step aws s3 mb s3://demo-firehose-bucket
echo
echo "\$ zip function.zip index.js"
(cd "$example_dir" && python3 -m zipfile -c "$work/function.zip" index.js)
step aws lambda create-function --function-name demo-transform --runtime nodejs20.x --handler index.handler \
  --role arn:aws:iam::000000000000:role/lambda-role --timeout 60 --zip-file fileb://function.zip --query '{FunctionArn:FunctionArn,State:State}'
aws lambda wait function-active-v2 --function-name demo-transform

# IntervalInSeconds 5 keeps the demo short: the API takes 0-900, but Debian's CLI 2.9 model still says 60-900, so
# its client-side validation is turned off for this one call.
step aws_unvalidated firehose create-delivery-stream \
  --delivery-stream-name demo-firehose --delivery-stream-type DirectPut \
  --extended-s3-destination-configuration '{
    "RoleARN": "arn:aws:iam::000000000000:role/firehose-role",
    "BucketARN": "arn:aws:s3:::demo-firehose-bucket",
    "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 5},
    "ProcessingConfiguration": {"Enabled": true, "Processors": [{"Type": "Lambda", "Parameters": [
      {"ParameterName": "LambdaArn", "ParameterValue": "arn:aws:lambda:us-east-1:000000000000:function:demo-transform:$LATEST"}]}]}}'
wait_for '[[ $(aws firehose describe-delivery-stream --delivery-stream-name demo-firehose --query DeliveryStreamDescription.DeliveryStreamStatus --output text) == ACTIVE ]]' 30

step aws firehose put-record --delivery-stream-name demo-firehose --cli-binary-format raw-in-base64-out --record Data=100

echo
echo "== waiting for the buffer interval (5 s) and the delivery"
wait_for '[[ -n $(aws s3api list-objects-v2 --bucket demo-firehose-bucket --query "Contents[].Key" --output text | grep -v None) ]]' 60
step aws s3 ls s3://demo-firehose-bucket --recursive
key=$(aws s3api list-objects-v2 --bucket demo-firehose-bucket --query 'Contents[0].Key' --output text)
echo
echo "\$ aws s3 cp s3://demo-firehose-bucket/$key -"
aws s3 cp "s3://demo-firehose-bucket/$key" -
echo
echo "== the function's log (/aws/lambda/demo-transform):"
log_messages /aws/lambda/demo-transform
echo
echo "== done"
