"""AWS Lambda adapters for faceanon: the SQS-fed S3 pipeline and the API Gateway endpoint.

Handlers (``queue_handler.handler``, ``api_handler.handler``) stay a few lines; the work lives in plain
functions (``s3_pipeline``, ``api``) that take their dependencies as arguments so tests can pass fakes.
"""
