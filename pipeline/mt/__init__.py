"""Model work shared by the model stages: the translator and the summariser (batching,
failure isolation), the translation memory in front of them, and the executors that run
them locally or on Ray."""
