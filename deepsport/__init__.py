"""DeepSport: a tool-using multimodal LLM agent for understanding sports video."""

__version__ = "0.1.0"
