"""The other shapes an S3 upload reaches the upload function in (used by make_events.py).

Each follows what AWS sends (the field names and their spelling differ between shapes on purpose):

* SNS -> SQS without raw message delivery: the SNS JSON envelope ("SigningCertURL", "UnsubscribeURL"),
  the S3 notification as a string in "Message" (Amazon SNS developer guide, "Fanout to Amazon SQS queues");
* SNS -> SQS with raw message delivery: the S3 notification itself as the body;
* SNS -> Lambda: `sam local generate-event sns notification`'s record ("SigningCertUrl", "UnsubscribeUrl");
* S3 -> EventBridge: the "Object Created" event of the S3 user guide ("EventBridge event message
  structure"): "etag" in detail.object, reason "PutObject" ("version-id" too on a versioned bucket; left out
  here like versionId in s3_put.json, so the samples work against an unversioned local bucket);
* EventBridge -> SQS: that event, whole, as the SQS message body.
"""

import json
from typing import Any

REGION = "eu-west-1"
ACCOUNT = "123456789012"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:faceanon-uploads"
SNS_URL = f"https://sns.{REGION}.amazonaws.com"


def sns_envelope(notification: dict[str, Any]) -> dict[str, Any]:
    """The body SQS receives from an SNS subscription without raw message delivery."""
    return {
        "Type": "Notification",
        "MessageId": "5b6a6f4e-7c1f-5a2b-9d8e-0f1e2d3c4b5a",
        "TopicArn": TOPIC_ARN,
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps(notification),
        "Timestamp": "2024-01-01T00:00:00.100Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": f"{SNS_URL}/SimpleNotificationService-EXAMPLE.pem",
        "UnsubscribeURL": f"{SNS_URL}/?Action=Unsubscribe&SubscriptionArn={TOPIC_ARN}:EXAMPLE",
    }


def sns_lambda_event(notification: dict[str, Any]) -> dict[str, Any]:
    """The event SNS hands a subscribed Lambda function."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{TOPIC_ARN}:EXAMPLE",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "5b6a6f4e-7c1f-5a2b-9d8e-0f1e2d3c4b5a",
                    "TopicArn": TOPIC_ARN,
                    "Subject": "Amazon S3 Notification",
                    "Message": json.dumps(notification),
                    "Timestamp": "2024-01-01T00:00:00.100Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": f"{SNS_URL}/SimpleNotificationService-EXAMPLE.pem",
                    "UnsubscribeUrl": f"{SNS_URL}/?Action=Unsubscribe&SubscriptionArn={TOPIC_ARN}:EXAMPLE",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def eventbridge_object_created(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    """S3 -> EventBridge "Object Created" (the key URL-encoded as in S3 notifications)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2024-01-01T00:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key.replace(" ", "+"),
                "size": size,
                "etag": etag,
                "sequencer": "617f08299329d189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT,
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }
