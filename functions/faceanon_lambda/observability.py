"""Powertools Logger/Tracer/Metrics shared by both handlers (one instance each per process)."""

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer

from .config import LambdaConfig

# At DEBUG these libraries log what they parse or send: Pillow every EXIF tag value (GPS, serials, maker
# notes), botocore request bodies (image bytes). Never below INFO, whatever level the function runs at.
for _library in ("PIL", "botocore", "boto3", "s3transfer", "urllib3"):
    logging.getLogger(_library).setLevel(logging.INFO)

CONFIG = LambdaConfig.from_env()
# The function's own service name (POWERTOOLS_SERVICE_NAME, one per function in template.yaml) is the
# `service` dimension of every metric, the `service` key of every log line and the traces' Service annotation:
# with one shared name the three functions' figures would merge into one.
logger = Logger(service=CONFIG.service_name)
# Traces never keep what a handler returns (image bytes, object keys): template.yaml sets
# POWERTOOLS_TRACER_CAPTURE_RESPONSE=false for every function and the handlers pass capture_response=False.
tracer = Tracer(service=CONFIG.service_name)
metrics = Metrics(namespace=CONFIG.metrics_namespace, service=CONFIG.service_name)
