"""Powertools Logger/Tracer/Metrics shared by both handlers (one instance each per process)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

from .config import LambdaConfig

CONFIG = LambdaConfig.from_env()
logger = Logger(service="faceanon")
tracer = Tracer(service="faceanon")
metrics = Metrics(namespace=CONFIG.metrics_namespace, service="faceanon")
