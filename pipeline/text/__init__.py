"""Text without models: sentence and block segmentation, names, language identification,
splitting text to fit a model's input."""
