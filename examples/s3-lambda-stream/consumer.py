import base64


def lambda_handler(event, context):
    for rec in event['Records']:
        print(base64.b64decode(rec['kinesis']['data']))
