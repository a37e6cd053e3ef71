"""Fault-injection tests: real Redis, real ``celery worker`` processes, real faults.

A package (unlike ``tests/integration``) so the tests can share ``faults.helpers``.
"""
