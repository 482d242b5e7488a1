import boto3


def lambda_handler(event, context):
    # The uploaded object named by the S3 notification.
    bucket = event['Records'][0]['s3']['bucket']['name']
    key = event['Records'][0]['s3']['object']['key']
    s3 = boto3.client('s3')
    response = s3.get_object(Bucket=bucket, Key=key)
    data = response['Body'].read().decode('utf-8')
    print(f'Read {len(data)} characters from s3://{bucket}/{key}')

    kinesis = boto3.client('kinesis')
    response = kinesis.put_record(StreamName='s3-events', Data=data, PartitionKey='123')
    print(f"Put into {response['ShardId']}, sequence number {response['SequenceNumber']}, encryption {response.get('EncryptionType')}")
    return {'statusCode': 200}
