"""The queue path as deployed, on moto: input and output buckets, the upload queue with its dead-letter
queue and redrive policy, and the input bucket's notification, all read from template.yaml; plus a poller
that plays the Lambda SQS event source (deliver a batch, delete what succeeded, let failures come back)."""

import json
from dataclasses import dataclass, field
from typing import Any

from support.aws import INPUT, OUTPUT, REGION, Context
from support.sqs_records import lambda_record
from support.template import resources, with_defaults


def template_max_receive_count() -> int:
    queue = resources("AWS::SQS::Queue")["UploadQueue"]
    return int(queue["Properties"]["RedrivePolicy"]["maxReceiveCount"])


def template_notifications(overrides: dict[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Bucket resource name -> its QueueConfigurations in template.yaml as deployed with the default
    parameters (and ``overrides``); empty list: no queue notification."""
    return {
        name: with_defaults(bucket.get("Properties", {}), overrides)
        .get("NotificationConfiguration", {})
        .get("QueueConfigurations", [])
        for name, bucket in resources("AWS::S3::Bucket").items()
    }


@dataclass
class Stack:
    s3: Any
    sqs: Any
    queue_url: str
    dlq_url: str
    queue_arn: str
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # handler responses, in order

    @classmethod
    def create(cls, s3: Any, sqs: Any) -> "Stack":
        for bucket in (INPUT, OUTPUT):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        dlq_url = sqs.create_queue(QueueName="faceanon-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": template_max_receive_count()}
        queue_url = sqs.create_queue(
            QueueName="faceanon-uploads", Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": "1800"}
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stack = cls(s3, sqs, queue_url, dlq_url, queue_arn)
        stack.apply_notifications({"InputBucket": INPUT, "OutputBucket": OUTPUT})
        stack.purge()  # the s3:TestEvent S3 sends when a notification is configured
        return stack

    def apply_notifications(self, names: dict[str, str]) -> None:
        """Configure each bucket's notification exactly as template.yaml does (prefix filter: empty = all)."""
        for resource, bucket in names.items():
            configs = [{"QueueArn": self.queue_arn, "Events": [c["Event"]]} for c in template_notifications()[resource]]
            self.s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": configs} if configs else {}
            )

    def purge(self) -> None:
        while messages := self.receive():
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def receive(self, url: str | None = None) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=url or self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        )
        return list(response.get("Messages", []))

    def deliver_once(self, handler: Any) -> int:
        """One poll: hand the batch to the handler, delete successes, make failures visible again at once
        (as when their visibility timeout ends). Returns how many messages were delivered."""
        messages = self.receive()
        if not messages:
            return 0
        records = [lambda_record(m, self.queue_arn, REGION) for m in messages]
        try:
            response = handler({"Records": records}, Context())
        except BaseException:  # the invocation died (timeout, crash): the whole batch comes back
            response = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
            self.deliveries.append(response)
            for message in messages:
                self._retry(message)
            raise
        self.deliveries.append(response)
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                self._retry(message)
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _retry(self, message: dict[str, Any]) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    def drain(self, handler: Any, max_polls: int = 20) -> int:
        """Poll until the queue is empty (failures end in the DLQ after maxReceiveCount); returns polls made."""
        for poll in range(max_polls):
            if not self.deliver_once(handler):
                return poll
        raise AssertionError(f"queue still busy after {max_polls} polls (a trigger loop?)")

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.receive(self.dlq_url)

    def output_versions(self) -> list[str]:
        listing = self.s3.list_object_versions(Bucket=OUTPUT)
        return sorted(v["Key"] for v in listing.get("Versions", []) + listing.get("DeleteMarkers", []))

    def upload(self, key: str, data: bytes) -> str:
        return str(self.s3.put_object(Bucket=INPUT, Key=key, Body=data)["ETag"]).strip('"')
