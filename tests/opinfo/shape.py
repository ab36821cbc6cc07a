from .core import OpInfo, SampleInput  # noqa: F401

OPS = []
