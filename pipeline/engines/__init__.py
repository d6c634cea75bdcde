"""Model engines: the only modules that import torch and transformers."""
