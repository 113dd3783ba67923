"""Powertools Logger/Tracer/Metrics shared by both handlers (one instance each per process)."""

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer

from .config import LambdaConfig

# At DEBUG these libraries log what they parse or send: Pillow every EXIF tag value (GPS, serials, maker
# notes), botocore request bodies (image bytes). Never below INFO, whatever level the function runs at.
for _library in ("PIL", "botocore", "boto3", "s3transfer", "urllib3"):
    logging.getLogger(_library).setLevel(logging.INFO)

CONFIG = LambdaConfig.from_env()
logger = Logger(service="faceanon")
tracer = Tracer(service="faceanon")
metrics = Metrics(namespace=CONFIG.metrics_namespace, service="faceanon")
