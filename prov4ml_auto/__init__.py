"""prov4ml-auto: zero-code W3C PROV-JSON provenance for PyTorch training."""

__version__ = "0.1.0"
