"""Hidden tests for ps5_mnist_cnn (being written)."""

from .framework import Registry

registry = Registry()
TESTS = registry.tests
