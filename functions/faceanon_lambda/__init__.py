"""AWS Lambda adapters for faceanon: the upload path (S3 events via SQS, SNS or EventBridge), the API Gateway
endpoint and S3 Batch Operations backfills.

Handlers (``queue_handler.handler``, ``api_handler.handler``, ``batch_handler.handler``) stay short; the work
lives in plain functions (``s3_events``, ``s3_pipeline``, ``audit``, ``announce``, ``api``, ``batch``) that take
their dependencies as arguments so tests can pass fakes.
"""
